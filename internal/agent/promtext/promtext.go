// Package promtext is the lean node agent's /metrics: the agent's counters (the same names,
// labels and types as the server's Prometheus registry gives them, internal/metrics) and the
// few Go and process gauges an operator reads, written in Prometheus's text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/) by hand. The Prometheus client
// library and the protobuf runtime it links were most of cmd/mint-agent's binary and a good part
// of its resident memory (docs/benchmarks.md); a handful of counters does not need them.
// test/arch keeps them out of the lean agent.
package promtext

import (
	"bufio"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LatencyBuckets are internal/metrics' buckets (50 µs to 2.5 s), so that a dashboard's
// histogram_quantile reads the lean agent as it reads the server.
var LatencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// ProxyUpstreamConnectionsName is the counter of the proxy's connections to the server (mint
// bench reads it).
const ProxyUpstreamConnectionsName = "mint_agent_proxy_upstream_connections_total"

// Agent counts the agent's answers and upstream calls (agent.Metrics) and serves them. The zero
// value is not ready: use New.
type Agent struct {
	start time.Time

	mu     sync.RWMutex
	served map[servedKey]*atomic.Uint64

	upstream [2]histogram // by result: ok, error

	proxyConns atomic.Uint64
}

type servedKey struct {
	dialect string
	code    int
	hit     bool
}

// histogram is a Prometheus histogram without labels of its own: per-bucket counts (not
// cumulative; summed when written), the count and the sum in nanoseconds.
type histogram struct {
	buckets [16]atomic.Uint64 // len(LatencyBuckets) + the +Inf bucket
	count   atomic.Uint64
	sumNS   atomic.Int64
}

// New returns an Agent with nothing counted.
func New() *Agent {
	return &Agent{start: time.Now(), served: map[servedKey]*atomic.Uint64{}}
}

// Served counts one answered token request (agent.Metrics).
func (a *Agent) Served(dialect string, status int, fromCache bool) {
	k := servedKey{dialect, status, fromCache}
	a.mu.RLock()
	c := a.served[k]
	a.mu.RUnlock()
	if c == nil {
		a.mu.Lock()
		if c = a.served[k]; c == nil {
			c = new(atomic.Uint64)
			a.served[k] = c
		}
		a.mu.Unlock()
	}
	c.Add(1)
}

// UpstreamCall records one call to the mint server (agent.Metrics).
func (a *Agent) UpstreamCall(d time.Duration, err error) {
	h := &a.upstream[0]
	if err != nil {
		h = &a.upstream[1]
	}
	s := d.Seconds()
	i, _ := slices.BinarySearch(LatencyBuckets, s) // the first bucket whose bound is >= s
	h.buckets[i].Add(1)
	h.count.Add(1)
	h.sumNS.Add(int64(d))
}

// ProxyUpstreamConnection counts one connection the node's Azure-name proxy opened to the mint
// server: one per tunnel it passes through; when it terminates, each is a TLS handshake of its
// own, so the count says whether the proxy reuses its connections.
func (a *Agent) ProxyUpstreamConnection() { a.proxyConns.Add(1) }

// Handler serves /metrics in the text format (version 0.0.4).
func (a *Agent) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		a.Write(bw)
		bw.Flush()
	})
}

// Write writes every metric family in the text format.
func (a *Agent) Write(w *bufio.Writer) {
	a.writeServed(w)
	a.writeUpstream(w)
	header(w, ProxyUpstreamConnectionsName, "Connections the node's Azure-name proxy opened to the mint server: one per tunnel passed through, or its own TLS connections when it terminates.", "counter")
	w.WriteString(ProxyUpstreamConnectionsName + " " + strconv.FormatUint(a.proxyConns.Load(), 10) + "\n")
	writeRuntime(w, a.start)
}

func (a *Agent) writeServed(w *bufio.Writer) {
	type row struct {
		k servedKey
		v uint64
	}
	a.mu.RLock()
	rows := make([]row, 0, len(a.served))
	for k, c := range a.served {
		rows = append(rows, row{k, c.Load()})
	}
	a.mu.RUnlock()
	slices.SortFunc(rows, func(x, y row) int {
		if c := strings.Compare(cacheLabel(x.k.hit), cacheLabel(y.k.hit)); c != 0 {
			return c
		}
		if c := strings.Compare(strconv.Itoa(x.k.code), strconv.Itoa(y.k.code)); c != 0 {
			return c
		}
		return strings.Compare(x.k.dialect, y.k.dialect)
	})
	header(w, "mint_agent_token_requests_total", "Token requests answered by the node agent, by dialect, status and cache (hit, miss).", "counter")
	for _, r := range rows {
		w.WriteString("mint_agent_token_requests_total{")
		labels(w, "cache", cacheLabel(r.k.hit), "code", strconv.Itoa(r.k.code), "dialect", r.k.dialect)
		w.WriteString("} ")
		w.WriteString(strconv.FormatUint(r.v, 10))
		w.WriteByte('\n')
	}
}

func cacheLabel(hit bool) string {
	if hit {
		return "hit"
	}
	return "miss"
}

func (a *Agent) writeUpstream(w *bufio.Writer) {
	const name = "mint_agent_upstream_duration_seconds"
	header(w, name, "Latency of the node agent's calls to the mint server, by result.", "histogram")
	for i, result := range []string{"error", "ok"} { // sorted by label value, as the client library writes them
		h := &a.upstream[1-i]
		count := h.count.Load()
		if count == 0 {
			continue // a label set is shown once it has been observed, as with a HistogramVec
		}
		var cum uint64
		for b := range len(LatencyBuckets) + 1 {
			cum += h.buckets[b].Load()
			le := "+Inf"
			if b < len(LatencyBuckets) {
				le = formatFloat(LatencyBuckets[b])
			}
			w.WriteString(name + "_bucket{")
			labels(w, "result", result, "le", le)
			w.WriteString("} ")
			w.WriteString(strconv.FormatUint(cum, 10))
			w.WriteByte('\n')
		}
		w.WriteString(name + "_sum{")
		labels(w, "result", result)
		w.WriteString("} ")
		w.WriteString(formatFloat(time.Duration(h.sumNS.Load()).Seconds()))
		w.WriteString("\n" + name + "_count{")
		labels(w, "result", result)
		w.WriteString("} ")
		w.WriteString(strconv.FormatUint(count, 10))
		w.WriteByte('\n')
	}
}

// writeRuntime writes the Go and process metrics operators and `mint bench` read, under the
// names and types of the client library's Go and process collectors.
func writeRuntime(w *bufio.Writer, start time.Time) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge := func(name, help string, v float64) {
		header(w, name, help, "gauge")
		w.WriteString(name + " " + formatFloat(v) + "\n")
	}
	counter := func(name, help string, v float64) {
		header(w, name, help, "counter")
		w.WriteString(name + " " + formatFloat(v) + "\n")
	}
	gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	gauge("go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use.", float64(ms.HeapAlloc))
	counter("go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already.", float64(ms.TotalAlloc))
	gauge("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", float64(ms.HeapInuse))
	gauge("go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used.", float64(ms.HeapIdle))
	gauge("go_memstats_heap_released_bytes", "Number of heap bytes released to OS.", float64(ms.HeapReleased))
	gauge("go_memstats_heap_objects", "Number of currently allocated objects.", float64(ms.HeapObjects))
	gauge("go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments.", float64(ms.StackInuse))
	gauge("go_memstats_sys_bytes", "Number of bytes obtained from system.", float64(ms.Sys))
	gauge("go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", float64(ms.NextGC))
	gauge("go_threads", "Number of OS threads created.", float64(threads()))
	if rss, vsz, ok := procStatm(); ok {
		gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss)
		gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", vsz)
	}
	if cpu, ok := procCPUSeconds(); ok {
		counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", cpu)
	}
	gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", float64(start.UnixNano())/1e9)
}

func header(w *bufio.Writer, name, help, typ string) {
	w.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + typ + "\n")
}

// labels writes name="value" pairs, comma-separated, values escaped.
func labels(w *bufio.Writer, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(kv[i] + `="` + escapeLabel(kv[i+1]) + `"`)
	}
}

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// escapeLabel escapes a label value: backslash, double quote and line feed.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// formatFloat writes a sample value or bound as the client library does (shortest form; +Inf,
// -Inf and NaN spelt out).
func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// threads counts the process's OS threads (Linux; 0 elsewhere).
func threads() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	return len(ents)
}

// procStatm reads resident and virtual size from /proc/self/statm (Linux).
func procStatm() (rss, vsz float64, ok bool) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, 0, false
	}
	pages, err1 := strconv.ParseFloat(f[0], 64)
	res, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	page := float64(os.Getpagesize())
	return res * page, pages * page, true
}

// procCPUSeconds reads user + system time from /proc/self/stat (Linux; clock ticks of 1/100 s,
// as the client library assumes).
func procCPUSeconds() (float64, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may contain spaces: fields count from
	// after its closing parenthesis, where field 3 (state) starts.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseFloat(f[11], 64) // field 14
	stime, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (utime + stime) / 100, true
}
