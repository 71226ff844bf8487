package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// machineInfo describes where the figures come from.
type machineInfo struct {
	CPU    string `json:"cpu"`
	CPUs   int    `json:"cpus"`
	Memory string `json:"memory"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	Nginx  string `json:"nginx"`
	Wrk    string `json:"wrk"`
}

func describeMachine(ctx context.Context, root string) machineInfo {
	m := machineInfo{CPU: "unknown", CPUs: runtime.NumCPU(), Memory: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "processor":
				n++
			case "model name":
				if m.CPU == "unknown" {
					m.CPU = strings.TrimSpace(v)
				}
			}
		}
		if n > 0 {
			m.CPUs = n
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if kib, err := strconv.ParseFloat(f[0], 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", kib/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := run(ctx, root, nil, "go", "version"); err == nil {
		m.Go = strings.TrimSpace(string(out))
	} else {
		m.Go = runtime.Version()
	}
	return m
}
