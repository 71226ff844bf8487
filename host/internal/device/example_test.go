package device_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/bespoke-edge/bespoke/host/internal/device"
)

func Example() {
	devices := device.NewCache(4096)

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
	fmt.Printf("%+v\n", devices.Classify(device.FromRequest(r)))

	// Chrome on an Android tablet that asks for desktop sites: only the
	// Client Hints say it is not a Linux desktop.
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
	r.Header.Set("Sec-CH-UA-Mobile", "?0")
	r.Header.Set("Sec-CH-UA-Platform", `"Android"`)
	r.Header.Set("Sec-CH-UA-Platform-Version", `"14.0.0"`)
	fmt.Printf("%+v\n", devices.Classify(device.FromRequest(r)))

	smartphoneGooglebot := "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	fmt.Printf("%+v\n", device.Classify(smartphoneGooglebot, device.Hints{}))
	// Output:
	// {Type:mobile OS:ios OSVersion:17.4 Browser:safari BrowserVersion:17.4 Bot:false}
	// {Type:tablet OS:android OSVersion:14 Browser:chrome BrowserVersion:124.0 Bot:false}
	// {Type:bot OS:android OSVersion:6 Browser:googlebot BrowserVersion:2.1 Bot:true}
}
