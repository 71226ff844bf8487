package device

import (
	"slices"
	"strings"
	"testing"
)

// FuzzClassify checks that Classify never panics, is deterministic, agrees
// with the cache, and answers within its closed sets.
func FuzzClassify(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(c.ua, c.hints.Mobile, c.hints.Platform, c.hints.PlatformVersion, c.hints.UA, c.hints.Model)
	}
	f.Add("", "", "", "", "", "")
	f.Add("Mozilla/5.0 (", "?1", `"`, `"`, `"A";v="`, `"`)
	f.Add("Mozilla/5.0 (Linux; Android 10; KF", "?0", `"Windows"`, `"0."`, `"Brave";v=`, "")
	f.Add("Mozilla/5.0 (iPhone; CPU iPhone OS 99999999999_1", "", "", "", "", "")
	f.Add("CrOS ", "", `"Chrome OS"`, "1_", "", `"TV"`)
	types := []Type{Mobile, Tablet, Desktop, TV, Console, Wearable, Bot}
	c := NewCache(64)
	f.Fuzz(func(t *testing.T, ua, mobile, platform, platformVersion, brands, model string) {
		h := Hints{Mobile: mobile, Platform: platform, PlatformVersion: platformVersion, UA: brands, Model: model}
		got, sig := Explain(ua, h)
		if !slices.Contains([]Signal{SignalHint, SignalToken, SignalModel, SignalDefault}, sig) {
			t.Fatalf("signal %q is not a Signal", sig)
		}
		if again := Classify(ua, h); again != got {
			t.Fatalf("Classify is not deterministic: %+v then %+v", got, again)
		}
		if cached := c.Classify(ua, h); cached != got {
			t.Fatalf("cache gave %+v, Classify %+v", cached, got)
		}
		if !slices.Contains(types, got.Type) {
			t.Fatalf("Type %q is not a device type", got.Type)
		}
		if got.OS != "" && !slices.Contains(OSes, got.OS) {
			t.Fatalf("OS %q is not in OSes", got.OS)
		}
		if got.Bot != (got.Type == Bot) {
			t.Fatalf("Bot %v with Type %q", got.Bot, got.Type)
		}
		for _, v := range []string{got.OSVersion, got.BrowserVersion} {
			for i := 0; i < len(v); i++ {
				if !isDigit(v[i]) && v[i] != '.' {
					t.Fatalf("version %q is not digits and dots", v)
				}
			}
		}
	})
}

// FuzzAndroidModel checks that the model read from a User-Agent is a part
// of it that holds no separator of the system part, and that classifying
// it never panics.
func FuzzAndroidModel(f *testing.F) {
	for _, s := range []string{
		"Mozilla/5.0 (Linux; Android 13; SM-S911B Build/TP1A.220624.014; wv) AppleWebKit/537.36",
		"Mozilla/5.0 (Linux; U; Android 4.1.2; en-us; Nook HD+ Build/JZO54K)", "Android", "Android ;", "Tizen 5.5; ",
		"Dalvik/2.1.0 (Linux; U; Android 11; 43F660TS Build/RP1A)", "Andr0id 13; 50OV6000U)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		m := androidModel(ua)
		if !strings.Contains(ua, m) || strings.ContainsAny(m, ";)") || strings.Contains(m, " Build/") {
			t.Fatalf("androidModel(%q) = %q", ua, m)
		}
		if typ, ok := modelType(m); ok != (typ != "") {
			t.Fatalf("modelType(%q) = %q, %v", m, typ, ok)
		}
	})
}
