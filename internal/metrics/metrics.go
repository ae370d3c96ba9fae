// Package metrics is mint's Prometheus instrumentation: request latency per endpoint family,
// tokens issued and refused (by grant and AADSTS code, from the sign-in log stream), the node
// agent's answers and cache hits, upstream calls, and store latency on the hot operations. It
// owns no behaviour: every hook wraps something that already exists. It does not import the
// store (storemetrics wraps the store and the sign-in log with it). The lean node agent
// (cmd/mint-agent) does not link it: internal/agent/promtext writes the agent's families under
// the same names without the client library (test/arch keeps it so).
package metrics

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds one registry and its collectors.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.HistogramVec
	tokens        *prometheus.CounterVec
	agentServed   *prometheus.CounterVec
	agentUpstream *prometheus.HistogramVec
	storeLatency  *prometheus.HistogramVec
}

// latencyBuckets span 50 µs to 2.5 s: cached agent answers sit at the bottom, signatures in the
// milliseconds, store writes with fsync above.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mint_http_request_duration_seconds", Help: "Latency of HTTP requests by endpoint family, method and status class.", Buckets: latencyBuckets,
	}, []string{"family", "method", "code"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mint_tokens_total", Help: "Tokens issued or refused by the STS, by grant, result and AADSTS error code.",
	}, []string{"grant", "result", "error_code"})
	m.agentServed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mint_agent_token_requests_total", Help: "Token requests answered by the node agent, by dialect, status and cache (hit, miss).",
	}, []string{"dialect", "code", "cache"})
	m.agentUpstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mint_agent_upstream_duration_seconds", Help: "Latency of the node agent's calls to the mint server, by result.", Buckets: latencyBuckets,
	}, []string{"result"})
	m.storeLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mint_store_operation_duration_seconds", Help: "Latency of store operations on the hot paths, by operation and result.", Buckets: latencyBuckets,
	}, []string{"operation", "result"})
	m.reg.MustRegister(m.requests, m.tokens, m.agentServed, m.agentUpstream, m.storeLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry (tests read it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Instrument measures h's requests under family. The observer of each method and status class
// is looked up once and kept (WithLabelValues hashes the labels and takes a lock on every call,
// a visible share of a vault GET's CPU); methods other than the common ones are looked up each
// time.
func (m *Metrics) Instrument(family string, h http.Handler) http.Handler {
	var observers [len(instrumentedMethods)][6]atomic.Pointer[prometheus.Observer]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		h.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		class := status / 100
		elapsed := time.Since(start).Seconds()
		method := methodIndex(r.Method)
		if method < 0 || class < 1 || class > 5 {
			m.requests.WithLabelValues(family, r.Method, strconv.Itoa(class)+"xx").Observe(elapsed)
			return
		}
		slot := &observers[method][class]
		o := slot.Load()
		if o == nil {
			obs := m.requests.WithLabelValues(family, r.Method, strconv.Itoa(class)+"xx")
			o = &obs
			slot.Store(o)
		}
		(*o).Observe(elapsed)
	})
}

var instrumentedMethods = [...]string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodHead}

func methodIndex(method string) int {
	for i, m := range instrumentedMethods {
		if m == method {
			return i
		}
	}
	return -1
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// CountToken counts a token issued or refused (storemetrics counts the STS's sign-in log with it).
func (m *Metrics) CountToken(grant, result, errorCode string) {
	m.tokens.WithLabelValues(grant, result, errorCode).Inc()
}

// Agent implements the node agent's metrics hooks (agent.Metrics).
func (m *Metrics) Agent() AgentMetrics { return AgentMetrics{m} }

// AgentMetrics counts the agent's answers.
type AgentMetrics struct{ m *Metrics }

func (a AgentMetrics) Served(dialect string, status int, fromCache bool) {
	cache := "miss"
	if fromCache {
		cache = "hit"
	}
	a.m.agentServed.WithLabelValues(dialect, strconv.Itoa(status), cache).Inc()
}

func (a AgentMetrics) UpstreamCall(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	a.m.agentUpstream.WithLabelValues(result).Observe(d.Seconds())
}

// ObserveStore records the latency of a store operation that started at start.
func (m *Metrics) ObserveStore(op string, start time.Time, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.storeLatency.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
}
