package main

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/bespoke-edge/bespoke/bench/internal/gobench"
)

// The charts are plain SVG written by hand: horizontal bars at the median
// with a whisker from the minimum to the maximum of the rounds.

const (
	svgWidth  = 900
	svgLeft   = 150 // room for the target names
	svgRight  = 230 // room for the value labels
	svgTop    = 62
	svgBottom = 44
)

// bar is one bar of a chart.
type bar struct {
	label string
	stat  gobench.Stat
	color string
	text  string
}

// group is one target's bars.
type group struct {
	name string
	bars []bar
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten, for the axis.
func niceMax(v float64) (max, step float64) {
	if v <= 0 {
		return 1, 0.2
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			max = m * p
			break
		}
	}
	step = max / 5
	return max, step
}

// chart draws the bars; tick formats the axis, value a cut whisker's end.
func chart(title, subtitle, unit, short string, groups []group, legend []bar, tick, value func(float64) string) []byte {
	barH, gap := 18.0, 14.0
	nbars := 0
	for _, g := range groups {
		nbars += len(g.bars)
	}
	plotH := float64(nbars)*barH + float64(len(groups))*gap
	if len(groups) == 0 {
		plotH = 40
	}
	height := svgTop + plotH + svgBottom
	plotW := float64(svgWidth - svgLeft - svgRight)
	// The axis fits the medians and the whiskers that stay within 2.5
	// times the largest median: one noisy round must not flatten every
	// bar. Longer whiskers are cut at the edge with an arrow, and the
	// label gives the worst round's value.
	medTop := 0.0
	for _, g := range groups {
		for _, b := range g.bars {
			medTop = math.Max(medTop, b.stat.Median)
		}
	}
	top := medTop
	for _, g := range groups {
		for _, b := range g.bars {
			if b.stat.Max <= 2.5*medTop {
				top = math.Max(top, b.stat.Max)
			}
		}
	}
	axisMax, step := niceMax(top)
	x := func(v float64) float64 { return svgLeft + v/axisMax*plotW }

	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%.0f" viewBox="0 0 %d %.0f" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`, svgWidth, height, svgWidth, height)
	w(`<rect width="100%%" height="100%%" fill="#ffffff"/>`)
	w(`<text x="16" y="24" font-size="16" font-weight="600" fill="#111">%s</text>`, html.EscapeString(title))
	w(`<text x="16" y="44" fill="#555">%s</text>`, html.EscapeString(subtitle))
	if len(legend) > 0 {
		lx := float64(svgWidth - svgRight)
		for i := len(legend) - 1; i >= 0; i-- {
			lx -= 8 + 7*float64(len(legend[i].label)) + 14
			w(`<rect x="%.1f" y="15" width="12" height="12" fill="%s"/><text x="%.1f" y="25" fill="#333">%s</text>`, lx, legend[i].color, lx+16, html.EscapeString(legend[i].label))
		}
	}
	// Grid and axis.
	for v := 0.0; v <= axisMax*1.0001; v += step {
		gx := x(v)
		w(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, gx, svgTop-6, gx, svgTop+plotH)
		w(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`, gx, svgTop+plotH+16, html.EscapeString(tick(v)))
	}
	w(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`, svgLeft+plotW/2, svgTop+plotH+34, html.EscapeString(unit))
	y := float64(svgTop)
	for _, g := range groups {
		gh := float64(len(g.bars)) * barH
		w(`<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" fill="#111">%s</text>`, svgLeft-10, y+gh/2, html.EscapeString(g.name))
		for _, b := range g.bars {
			if b.stat.N > 0 {
				w(`<rect x="%d" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
					svgLeft, y+2, math.Max(1, x(b.stat.Median)-svgLeft), barH-4, b.color, html.EscapeString(g.name+" "+b.label+": "+b.text))
				labelX, text := x(b.stat.Median)+6, b.text
				if b.stat.N > 1 {
					cy := y + barH/2
					lo, hi := x(b.stat.Min), x(b.stat.Max)
					if b.stat.Max > axisMax {
						hi = x(axisMax) + 8
						w(`<path d="M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fL%.1f %.1fL%.1f %.1f" stroke="#222" stroke-width="1.2" fill="none"/>`,
							lo, cy, hi, lo, cy-4, cy+4, hi-5, cy-4, hi, cy, hi-5, cy+4)
						text += " (worst " + value(b.stat.Max) + " " + short + ")"
					} else {
						w(`<path d="M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f" stroke="#222" stroke-width="1.2" fill="none"/>`,
							lo, cy, hi, lo, cy-4, cy+4, hi, cy-4, cy+4)
					}
					labelX = math.Max(labelX, hi+6)
				}
				w(`<text x="%.1f" y="%.1f" dominant-baseline="middle" fill="#333">%s</text>`, labelX, y+barH/2, html.EscapeString(text))
			} else {
				w(`<text x="%d" y="%.1f" dominant-baseline="middle" fill="#999">%s</text>`, svgLeft+4, y+barH/2, html.EscapeString(b.text))
			}
			y += barH
		}
		y += gap
	}
	if len(groups) == 0 {
		w(`<text x="%d" y="%.1f" fill="#999">no target was measured</text>`, svgLeft, float64(svgTop)+20)
	}
	w(`</svg>`)
	return []byte(s.String())
}

var targetColors = map[string]string{
	"origin":          "#9e9e9e",
	"goproxy":         "#5b8def",
	"bespoke-none":    "#f2a65a",
	"bespoke-edits":   "#ee7b30",
	"bespoke-seen":    "#c8501d",
	"nginx-plain":     "#4caf7d",
	"nginx-subfilter": "#2e7d57",
	// The varying pages: bespoke-seen's colour, darker.
	"bespoke-seen-varying": "#8a3412",
	"bespoke-seen-text":    "#b35a2a",
	"bespoke-seen-nonce":   "#a8431a",
	// Its page sent chunked: bespoke-seen's colour, lighter.
	"bespoke-seen-streamed": "#e0703a",
}

func throughputSVG(rep *report) []byte {
	var groups []group
	for _, s := range rep.Targets {
		if s.Skipped != "" || s.RPS.N == 0 {
			continue
		}
		groups = append(groups, group{name: s.Name, bars: []bar{{stat: s.RPS, color: targetColors[s.Name], text: thousands(s.RPS.Median) + " req/s"}}})
	}
	sub := fmt.Sprintf("closed loop, %d connections, %s × %s: median, whiskers min–max; %s, %d CPUs", rep.Options.Conns, rep.Options.Duration, plural(rep.Options.Rounds, "round"), rep.Machine.CPU, rep.Machine.CPUs)
	return chart("Throughput (higher is better)", sub, "requests per second", "req/s", groups, nil, thousands, thousands)
}

func latencySVG(rep *report) []byte {
	legend := []bar{{label: "p50", color: "#9ecae1"}, {label: "p99", color: "#4292c6"}, {label: "p99.9", color: "#08519c"}}
	var groups []group
	for _, s := range rep.Targets {
		if s.Skipped != "" || s.P50.N == 0 {
			continue
		}
		g := group{name: s.Name}
		for i, st := range []gobench.Stat{s.P50, s.P99, s.P999} {
			g.bars = append(g.bars, bar{label: legend[i].label, stat: st, color: legend[i].color, text: legend[i].label + " " + msText(st.Median) + " ms"})
		}
		groups = append(groups, g)
	}
	sub := fmt.Sprintf("open loop at %s req/s for every target, from intended send times; %s × %s: median, whiskers min–max", thousands(rep.Rate), rep.Options.Duration, plural(rep.Options.Rounds, "round"))
	return chart("Latency at a fixed rate (lower is better)", sub, "milliseconds", "ms", groups, legend, func(v float64) string { return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".") }, msText)
}
