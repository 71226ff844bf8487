package main

import (
	"net/http"
	"strconv"

	"github.com/bespoke-edge/bespoke/bench/internal/load"
)

// The visitors of the benchmark. Every request index picks its segment
// cookie, country, User-Agent and unique cookies deterministically, the
// same way as peers/wrk/vary.lua, so that runs repeat and no proxy can
// answer from a cache. Every visitor is in the personalized audience
// (a known segment), so every request gets the five edits; BR is not a
// served country (its visitors are in the audience by their segment), and
// the page names it as it names the others.
var (
	countries       = []string{"FR", "DE", "US", "GB", "ES", "IT", "JP", "BR"}
	servedCountries = countries[:7]
	segments        = []string{"club", "returning", "new"}
	agents          = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
	}
)

// baseHeader is sent with every request.
func baseHeader() http.Header {
	return http.Header{
		"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language": {"en-US,en;q=0.9"},
	}
}

// varyWith returns the per-request headers; jars are cookie strings
// captured from the target's earlier responses ("bsk_vid=...;
// bsk_seen=..."), used in turn.
func varyWith(jars []string) load.Vary {
	return func(i uint64, b []byte) []byte {
		b = append(b, "Cookie: seg="...)
		b = append(b, segments[i%uint64(len(segments))]...)
		b = append(b, "; uid=u"...)
		b = strconv.AppendUint(b, i, 10)
		b = append(b, "; _ga=GA1.2."...)
		b = strconv.AppendUint(b, i, 10)
		b = append(b, ".1700000000"...)
		if len(jars) > 0 {
			b = append(b, "; "...)
			b = append(b, jars[i%uint64(len(jars))]...)
		}
		b = append(b, "\r\n"...)
		b = load.AppendHeader(b, "CF-IPCountry", countries[i%uint64(len(countries))])
		return load.AppendHeader(b, "User-Agent", agents[i%uint64(len(agents))])
	}
}

// requestFor builds request i as a net/http request, for the checks that
// do not go through the load generator.
func requestFor(url string, i uint64, jar string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header = baseHeader()
	cookie := "seg=" + segments[i%uint64(len(segments))] + "; uid=u" + strconv.FormatUint(i, 10) +
		"; _ga=GA1.2." + strconv.FormatUint(i, 10) + ".1700000000"
	if jar != "" {
		cookie += "; " + jar
	}
	req.Header.Set("Cookie", cookie)
	req.Header.Set("CF-IPCountry", countries[i%uint64(len(countries))])
	req.Header.Set("User-Agent", agents[i%uint64(len(agents))])
	return req, nil
}
