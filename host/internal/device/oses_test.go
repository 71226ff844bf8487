package device_test

import (
	"slices"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/device"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestOSesMatchRuleCompiler keeps device.OSes and the values the rule
// compiler accepts for device.os in step: a value only one side knows is
// either a rule that can never match or an OS rules cannot name.
func TestOSesMatchRuleCompiler(t *testing.T) {
	want := slices.DeleteFunc(plugin.DeviceOSes(), func(s string) bool { return s == "other" })
	got := slices.Clone(device.OSes)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("device.OSes = %q, plugin.DeviceOSes() without \"other\" = %q", got, want)
	}
	types := []string{string(device.Mobile), string(device.Tablet), string(device.Desktop), string(device.TV), string(device.Console), string(device.Wearable), string(device.Bot)}
	if !slices.Equal(types, plugin.DeviceTypes()) {
		t.Errorf("device types %q, plugin.DeviceTypes() %q", types, plugin.DeviceTypes())
	}
}
