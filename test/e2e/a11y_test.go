package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// An accessibility audit of each screen the browser tests show: axe-core (Deque's rules engine,
// the version locked in test/e2e/axe/package-lock.json, installed with npm ci once per run) is
// injected into the page Chromium shows and checks the WCAG 2.0 and 2.1 level A and AA rules
// (and axeTags' others); every violation fails the test with the rule, its impact, the element
// and the rule's help page. The tests call it as steps at each distinct screen (a portal blade,
// a sign-in page, an open pane or dialog, a form showing its errors), once per screen per run of
// the suite, so the audit adds seconds, not a test of its own.
//
// The script goes in through the DevTools protocol's Runtime.evaluate, which the page's
// Content-Security-Policy does not govern (it governs what the page itself loads and runs), so
// the portal's and the sign-in pages' real CSP (script-src 'self', no inline code) stays as it is
// served; the audit also fails on any CSP violation the page reports while axe runs.

// axeInstall is test/e2e/axe (axe-core).
var axeInstall = &npmProject{name: "axe", files: []string{"package.json", "package-lock.json"}}

// axeTags are the rules the audit runs (axe's tags, https://www.deque.com/axe/core-documentation/api-documentation/#axe-core-tags):
// WCAG 2.0 and 2.1 at levels A and AA, WCAG 2.2's AA rule (target size), and Deque's best
// practices, which hold what WCAG asks for in ways it leaves open: one main landmark, all
// content inside landmarks, headings in order, unique landmark names. Every screen passes them
// all; none is turned off.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"}

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error

	// audited holds the screens already audited by this test process: a screen the tests show
	// again (the same page on the other store, or in another test) is audited once.
	audited sync.Map

	// auditTime adds up the time the audits took in this process, for the suite's budget.
	auditTime struct {
		sync.Mutex
		d time.Duration
		n int
	}
)

// axeScript returns axe.min.js from the installed package.
func axeScript(t *testing.T) string {
	t.Helper()
	_, npm := needNode(t)
	dir := startNPMInstall(t, npm, axeInstall)()
	axeOnce.Do(func() {
		var b []byte
		b, axeErr = os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
		axeSource = string(b)
	})
	if axeErr != nil {
		t.Fatalf("read axe-core: %v", axeErr)
	}
	return axeSource
}

// axeViolation is one rule a page breaks, as axe.run reports it.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target         json.RawMessage `json:"target"`
		HTML           string          `json:"html"`
		FailureSummary string          `json:"failureSummary"`
	} `json:"nodes"`
}

// axeResult is what the audit script returns: the violations; the rules axe could not decide
// alone ("needs review": logged, not failed, since a person decides those); the number of rules
// that passed; the CSP violations the page reported while axe ran; and how much wider than the
// window the page is.
type axeResult struct {
	Violations []axeViolation `json:"violations"`
	Review     []string       `json:"review"`
	Passed     int            `json:"passed"`
	CSP        []string       `json:"csp"`
	Overflow   int            `json:"overflow"` // CSS pixels the page is wider than the window
}

// auditScript runs axe on the document (axe.run with axeTags) and collects the page's
// securitypolicyviolation events meanwhile. iframes: false spares axe looking for frames to
// audit: the pages' CSP (default-src 'none', no frame-src) would load nothing into one.
func auditScript() string {
	tags, _ := json.Marshal(axeTags)
	return `(async () => {
	const csp = [];
	const onCSP = e => csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
	document.addEventListener("securitypolicyviolation", onCSP);
	try {
		const r = await axe.run(document, {runOnly: {type: "tag", values: ` + string(tags) + `}, resultTypes: ["violations"], iframes: false});
		const root = document.documentElement;
		return {violations: r.violations, passed: r.passes.length, csp, overflow: root.scrollWidth - root.clientWidth,
			review: r.incomplete.map(v => v.id + " (" + v.help + ") on " + v.nodes.map(n => JSON.stringify(n.target) + ": " +
				(n.failureSummary || "").split("\n").slice(1).map(l => l.trim()).join(" ")).join("; "))};
	} finally {
		document.removeEventListener("securitypolicyviolation", onCSP);
	}
})()`
}

// probeScript shows, once per test process, that the audit can fail where it runs: the page's
// CSP is in force (an eval() in the page is refused: the probe is evaluated without DevTools'
// exemption from 'unsafe-eval'), and axe, injected under it, finds a text box without a label
// put into the page for the moment (removed again before the test goes on).
const probeScript = `(async () => {
	let csp = false;
	try { eval("1"); } catch (e) { csp = e instanceof EvalError; }
	const probe = document.createElement("div");
	probe.innerHTML = '<input type="text">';
	document.body.appendChild(probe);
	try {
		const r = await axe.run(probe, {runOnly: {type: "rule", values: ["label"]}});
		return {csp, found: r.violations.length === 1 && r.violations[0].id === "label"};
	} finally {
		probe.remove();
	}
})()`

var probed sync.Once

// auditA11y audits the page the browser shows now as screen (a name for the report), once per
// screen name per test process, and fails the test with every violation.
func auditA11y(t *testing.T, ctx context.Context, screen string) {
	t.Helper()
	if _, done := audited.LoadOrStore(screen, true); done || auditedByAnotherProcess(t, screen) {
		return
	}
	src := axeScript(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	var res axeResult
	var loc string
	var loaded bool
	err := chromedp.Do(ctx,
		into(&loc, chromedp.Location()),
		into(&loaded, chromedp.Evaluate[bool](`typeof axe !== "undefined"`)),
		// Once per document: axe stays on window until the next navigation. The source is the
		// expression itself (an eval() inside the page would be refused by its CSP).
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			if loaded {
				return chromedp.Void{}, nil
			}
			return chromedp.Evaluate[chromedp.Void](src)(ctx, tg)
		},
		into(&res, chromedp.Evaluate[axeResult](auditScript(), chromedp.EvalAwaitPromise)),
	)
	if err != nil {
		t.Fatalf("accessibility audit of %s (%s): %v", screen, loc, err)
	}
	probed.Do(func() {
		var p struct{ CSP, Found bool }
		noEval := func(p *runtime.EvaluateParams) { p.AllowUnsafeEvalBlockedByCSP = new(false) }
		if err := chromedp.Do(ctx, into(&p, chromedp.Evaluate[struct{ CSP, Found bool }](probeScript, chromedp.EvalAwaitPromise, noEval))); err != nil {
			t.Fatalf("accessibility audit's probe on %s: %v", loc, err)
		}
		if !p.CSP || !p.Found {
			t.Fatalf("the accessibility audit cannot be trusted on %s: the page's CSP refused eval: %v; axe found an unlabelled text box: %v", loc, p.CSP, p.Found)
		}
	})
	took := time.Since(start)
	auditTime.Lock()
	auditTime.d += took
	auditTime.n++
	total, n := auditTime.d, auditTime.n
	auditTime.Unlock()
	t.Logf("accessibility audit of %s: %d rules passed, %d broken, in %v (%d audits, %v in all in this test process)",
		screen, res.Passed, len(res.Violations), took.Round(time.Millisecond), n, total.Round(time.Millisecond))
	for _, r := range res.Review {
		t.Logf("accessibility audit of %s: needs review (axe could not decide): %s", screen, r)
	}
	if len(res.CSP) > 0 {
		t.Errorf("the page's Content-Security-Policy refused something while axe ran on %s: %s", screen, strings.Join(res.CSP, "; "))
	}
	// axe does not look at this: a page wider than the window makes the reader scroll sideways
	// for every line (WCAG 1.4.10); a wide table scrolls inside main instead (portal.css).
	if res.Overflow > 0 {
		t.Errorf("%s at %s is %d CSS pixels wider than the window, so it scrolls sideways (WCAG 1.4.10 reflow)", screen, loc, res.Overflow)
	}
	if res.Passed == 0 {
		t.Errorf("accessibility audit of %s at %s: no rule passed, so none ran", screen, loc)
	}
	if len(res.Violations) == 0 {
		return
	}
	var b strings.Builder
	for _, v := range res.Violations {
		fmt.Fprintf(&b, "\n  %s (%s): %s — %s", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n    %s %s", n.Target, n.HTML)
			if n.FailureSummary != "" {
				fmt.Fprintf(&b, "\n      %s", strings.ReplaceAll(n.FailureSummary, "\n", "\n      "))
			}
		}
	}
	t.Errorf("accessibility (axe-core, %s) of %s at %s: %d rules broken:%s", strings.Join(axeTags, ", "), screen, loc, len(res.Violations), b.String())
}

// auditedByAnotherProcess marks screen as audited for every test process of the run
// (scripts/go-test.sh runs the e2e tests as several processes sharing MINT_E2E_SHARED_DIR), and
// reports whether another process had marked it first: every portal test signs in, so the first
// screens would otherwise be audited once per process.
func auditedByAnotherProcess(t *testing.T, screen string) bool {
	t.Helper()
	shared := os.Getenv("MINT_E2E_SHARED_DIR")
	if shared == "" {
		return false
	}
	dir := filepath.Join(shared, "a11y")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, strings.ReplaceAll(screen, "/", "_")), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if os.IsExist(err) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return false
}

// startAxeInstall starts npm ci of test/e2e/axe early, beside a test's own set-up, so that its
// first audit does not wait for it.
func startAxeInstall(t *testing.T) {
	t.Helper()
	_, npm := needNode(t)
	startNPMInstall(t, npm, axeInstall)
}

// reflowScript lists the elements that stick out of a 320 CSS pixel wide window, other than data
// tables and what is in them (two-dimensional content, which WCAG 1.4.10 lets scroll sideways).
const reflowScript = `[...document.body.querySelectorAll("*")]
	.filter(e => !e.closest("table") && e.getClientRects().length > 0 && e.getBoundingClientRect().right > window.innerWidth + 1)
	.map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\s+/).join(".") : "") +
		" (right edge at " + Math.round(e.getBoundingClientRect().right) + " px)")`

// auditNarrow audits the screen again in a window 320 CSS pixels wide (a phone, or a 1280 pixel
// window at 400% zoom): WCAG 1.4.10 (reflow) wants everything but two-dimensional content such as
// data tables readable without scrolling sideways, which axe does not check; then axe runs at that
// width. The window returns to its size afterwards.
func (b *browserSession) auditNarrow(screen string) {
	b.t.Helper()
	screen += " at 320 px"
	if _, done := audited.Load(screen); done {
		return
	}
	var wide []string
	b.run("a window 320 CSS pixels wide", chromedp.EmulateViewport(320, 640), into(&wide, chromedp.Evaluate[[]string](reflowScript)))
	if len(wide) > 0 {
		b.t.Errorf("%s: elements stick out of the window, so the page scrolls sideways (WCAG 1.4.10 reflow): %s", screen, strings.Join(wide, ", "))
	}
	auditA11y(b.t, b.ctx, screen)
	b.run("the window's own size again", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return chromedp.Void{}, err
	})
}

// audit audits the page the portal browser shows now (see auditA11y).
func (b *browserSession) audit(screen string) {
	b.t.Helper()
	auditA11y(b.t, b.ctx, screen)
}
