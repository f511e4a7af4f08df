// harness_test.go owns the test harness: starting/stopping the nsqd process
// under test ($NSQD_BIN), capturing its log output, go-nsq client logging,
// deadline-bounded polling helpers and typed access to GET /stats.
package nsqcompat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

const (
	startupTimeout = 20 * time.Second // for the listen lines and /ping
	stopTimeout    = 10 * time.Second // SIGTERM grace period before SIGKILL
)

var (
	tcpListenRe  = regexp.MustCompile(`TCP: listening on (\S+:\d+)`)
	httpListenRe = regexp.MustCompile(`HTTP: listening on (\S+:\d+)`)
	// httpsListenRe finds the HTTPS listener (only with a TLS certificate).
	httpsListenRe = regexp.MustCompile(`HTTPS: listening on (\S+:\d+)`)
	httpClient    = &http.Client{Timeout: 5 * time.Second}
)

// lineLog collects a process stream line by line and remembers the listen
// addresses announced on it.
type lineLog struct {
	mu        *sync.Mutex // shared by the stdout and stderr lineLogs
	name      string
	all       *bytes.Buffer // shared by stdout and stderr
	partial   []byte
	scan      bool
	tcpAddr   string
	httpAddr  string
	httpsAddr string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		fmt.Fprintf(l.all, "[%s] %s\n", l.name, line)
		if !l.scan {
			continue
		}
		if m := tcpListenRe.FindStringSubmatch(line); m != nil && l.tcpAddr == "" {
			l.tcpAddr = m[1]
		}
		if m := httpListenRe.FindStringSubmatch(line); m != nil && l.httpAddr == "" {
			l.httpAddr = m[1]
		}
		if m := httpsListenRe.FindStringSubmatch(line); m != nil && l.httpsAddr == "" {
			l.httpsAddr = m[1]
		}
	}
	return len(p), nil
}

// httpsAddress is the HTTPS listener's address, "" if none was announced.
func (n *nsqdProc) httpsAddress() string {
	n.outMu.Lock()
	defer n.outMu.Unlock()
	for _, l := range n.streams {
		if l.httpsAddr != "" {
			return l.httpsAddr
		}
	}
	return ""
}

func (l *lineLog) addrs() (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tcpAddr, l.httpAddr
}

// nsqdProc is one running nsqd under test.
type nsqdProc struct {
	TCPAddr  string
	HTTPAddr string

	cmd     *exec.Cmd
	outMu   sync.Mutex
	out     bytes.Buffer
	streams []*lineLog
	exited  chan struct{}
	waitErr error // valid once exited is closed
}

// output returns everything nsqd wrote so far, including unterminated lines.
func (n *nsqdProc) output() string {
	n.outMu.Lock()
	defer n.outMu.Unlock()
	out := n.out.String()
	for _, l := range n.streams {
		if len(l.partial) > 0 {
			out += fmt.Sprintf("[%s] %s (no newline)\n", l.name, l.partial)
		}
	}
	return out
}

// startNSQD launches $NSQD_BIN on ephemeral loopback ports with a fresh data
// path, waits until it announced its addresses and answers GET /ping, and
// registers a cleanup that stops it (printing its output if the test failed).
func startNSQD(t *testing.T, extraArgs ...string) *nsqdProc {
	t.Helper()
	bin := os.Getenv("NSQD_BIN")
	if bin == "" {
		t.Fatal("NSQD_BIN is not set: run as `NSQD_BIN=/abs/path/to/nsqd go test -count=1 -v ./...`")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("NSQD_BIN=%q is not usable: %v", bin, err)
	}

	args := []string{
		"--tcp-address=127.0.0.1:0",
		"--http-address=127.0.0.1:0",
		"--data-path=" + t.TempDir(),
	}
	args = append(args, extraArgs...)

	n := &nsqdProc{exited: make(chan struct{})}
	stderr := &lineLog{mu: &n.outMu, name: "stderr", all: &n.out, scan: true}
	stdout := &lineLog{mu: &n.outMu, name: "stdout", all: &n.out}
	n.streams = []*lineLog{stderr, stdout}
	n.cmd = exec.Command(bin, args...)
	n.cmd.Stderr = stderr
	n.cmd.Stdout = stdout
	n.cmd.WaitDelay = 2 * time.Second
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("failed to start %s: %v", bin, err)
	}
	t.Logf("started nsqd pid %d: %s %s", n.cmd.Process.Pid, bin, strings.Join(args, " "))
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()

	t.Cleanup(func() {
		n.stop(t)
		if t.Failed() {
			t.Logf("---- nsqd output (pid %d) ----\n%s---- end nsqd output ----", n.cmd.Process.Pid, n.output())
		}
	})

	deadline := time.Now().Add(startupTimeout)
	for {
		tcp, httpA := stderr.addrs()
		if tcp != "" && httpA != "" {
			n.TCPAddr, n.HTTPAddr = tcp, httpA
			break
		}
		select {
		case <-n.exited:
			t.Fatalf("nsqd exited before announcing its listeners (exit: %v)", exitStatus(n.waitErr))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nsqd did not log both `TCP: listening on <addr>` and `HTTP: listening on <addr>` on stderr within %s (tcp=%q http=%q)",
				startupTimeout, tcp, httpA)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, a := range []string{n.TCPAddr, n.HTTPAddr} {
		if host, _, err := net.SplitHostPort(a); err != nil || host != "127.0.0.1" {
			t.Fatalf("nsqd announced unexpected listen address %q (want 127.0.0.1:<port>)", a)
		}
	}

	lastErr := "no attempt"
	for {
		resp, err := httpClient.Get("http://" + n.HTTPAddr + "/ping")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(body) == "OK" {
				break
			}
			lastErr = fmt.Sprintf("status %d body %q", resp.StatusCode, body)
		} else {
			lastErr = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /ping on %s did not return 200 \"OK\" within %s: %s", n.HTTPAddr, startupTimeout, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("nsqd ready: tcp=%s http=%s", n.TCPAddr, n.HTTPAddr)
	return n
}

func (n *nsqdProc) stop(t *testing.T) {
	select {
	case <-n.exited:
		t.Errorf("nsqd (pid %d) exited on its own before the test finished (exit: %v)", n.cmd.Process.Pid, exitStatus(n.waitErr))
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
		return
	case <-time.After(stopTimeout):
	}
	t.Errorf("nsqd (pid %d) did not exit within %s of SIGTERM; killing it", n.cmd.Process.Pid, stopTimeout)
	_ = n.cmd.Process.Kill()
	select {
	case <-n.exited:
	case <-time.After(5 * time.Second):
		t.Errorf("nsqd (pid %d) still not reaped after SIGKILL", n.cmd.Process.Pid)
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// ---- go-nsq client logging: kept in memory, printed only on failure ----

type clientLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *clientLog) Output(_ int, s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(time.Now().Format("15:04:05.000000 "))
	l.buf.WriteString(s)
	l.buf.WriteByte('\n')
	return nil
}

func (l *clientLog) contains(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), sub)
}

// newClientLog returns a go-nsq logger whose output is shown only if the
// test fails (go-nsq may log from its goroutines after the test returned,
// so it must not write to t directly).
func newClientLog(t *testing.T) *clientLog {
	l := &clientLog{}
	t.Cleanup(func() {
		if t.Failed() {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Logf("---- go-nsq client log ----\n%s---- end go-nsq client log ----", l.buf.String())
		}
	})
	return l
}

func newProducer(t *testing.T, n *nsqdProc, logs *clientLog) *nsq.Producer {
	t.Helper()
	cfg := nsq.NewConfig()
	p, err := nsq.NewProducer(n.TCPAddr, cfg)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	p.SetLogger(logs, nsq.LogLevelInfo)
	t.Cleanup(p.Stop)
	return p
}

// newConsumer creates a go-nsq consumer (handlers still to be added) and
// registers a cleanup that stops it before nsqd is stopped.
func newConsumer(t *testing.T, topic, channel string, cfg *nsq.Config, logs *clientLog) *nsq.Consumer {
	t.Helper()
	c, err := nsq.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatalf("NewConsumer(%s, %s): %v", topic, channel, err)
	}
	c.SetLogger(logs, nsq.LogLevelInfo)
	t.Cleanup(func() {
		if err := stopConsumer(c); err != nil {
			t.Error(err)
		}
	})
	return c
}

// connectConsumer connects c directly to nsqd's TCP address and waits until
// the channel exists (go-nsq sends SUB without waiting for its response, so
// ConnectToNSQD returning does not mean the subscription is in place).
func connectConsumer(t *testing.T, n *nsqdProc, c *nsq.Consumer, topic, channel string) {
	t.Helper()
	if err := bounded(t, "ConnectToNSQD", func() error { return c.ConnectToNSQD(n.TCPAddr) }); err != nil {
		t.Fatalf("ConnectToNSQD(%s): %v", n.TCPAddr, err)
	}
	n.waitChannelExists(t, topic, channel)
}

// stopConsumer stops c (idempotent) and waits, bounded, for it to finish; a
// clean stop needs the server to answer CLS with CLOSE_WAIT.
func stopConsumer(c *nsq.Consumer) error {
	c.Stop()
	select {
	case <-c.StopChan:
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("consumer did not stop within 15s (server should answer CLS with CLOSE_WAIT and close)")
	}
}

// ---- polling ----

// waitFor polls cond every 20ms until it returns true, failing the test with
// desc and cond's last diagnostic if timeout passes first.
func waitFor(t *testing.T, timeout time.Duration, desc string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, diag := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, desc, diag)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// callTimeout bounds every synchronous go-nsq call: go-nsq itself would wait
// forever for a response that a (heartbeating) server never sends.
const callTimeout = 15 * time.Second

// bounded runs f (a synchronous go-nsq call) and returns its error, failing
// the test if it does not return within callTimeout.
func bounded(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(callTimeout):
		t.Fatalf("%s did not return within %s (no response from nsqd?)", what, callTimeout)
		return nil
	}
}

// ---- /stats ----

type statsDoc struct {
	Version   string        `json:"version"`
	Health    string        `json:"health"`
	Topics    []topicStats  `json:"topics"`
	Producers []clientStats `json:"producers"`
}

type topicStats struct {
	TopicName    string         `json:"topic_name"`
	Channels     []channelStats `json:"channels"`
	Depth        int64          `json:"depth"`
	BackendDepth int64          `json:"backend_depth"`
	MessageCount uint64         `json:"message_count"`
	MessageBytes uint64         `json:"message_bytes"`
	Paused       bool           `json:"paused"`
}

type channelStats struct {
	ChannelName   string        `json:"channel_name"`
	Depth         int64         `json:"depth"`
	BackendDepth  int64         `json:"backend_depth"`
	InFlightCount int           `json:"in_flight_count"`
	DeferredCount int           `json:"deferred_count"`
	MessageCount  uint64        `json:"message_count"`
	RequeueCount  uint64        `json:"requeue_count"`
	TimeoutCount  uint64        `json:"timeout_count"`
	ClientCount   int           `json:"client_count"`
	Clients       []clientStats `json:"clients"`
	Paused        bool          `json:"paused"`
	// Beyond Go nsqd: present only with --max-attempts / --max-msg-age.
	DeadLetterCount *uint64 `json:"dead_letter_count"`
}

type clientStats struct {
	ClientID       string     `json:"client_id"`
	Hostname       string     `json:"hostname"`
	UserAgent      string     `json:"user_agent"`
	ReadyCount     int64      `json:"ready_count"`
	InFlightCount  int64      `json:"in_flight_count"`
	MessageCount   uint64     `json:"message_count"`
	FinishCount    uint64     `json:"finish_count"`
	RequeueCount   uint64     `json:"requeue_count"`
	PubCounts      []pubCount `json:"pub_counts"`
	Snappy         bool       `json:"snappy"`
	Deflate        bool       `json:"deflate"`
	TLS            bool       `json:"tls"`
	TLSVersion     string     `json:"tls_version"`
	TLSCipherSuite string     `json:"tls_cipher_suite"`
}

type pubCount struct {
	Topic string `json:"topic"`
	Count uint64 `json:"count"`
}

func (n *nsqdProc) stats(topic string) (*statsDoc, error) {
	u := "http://" + n.HTTPAddr + "/stats?format=json&topic=" + url.QueryEscape(topic)
	resp, err := httpClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: status %d body %q", u, resp.StatusCode, body)
	}
	var doc statsDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("GET %s: bad JSON (%v): %q", u, err, body)
	}
	return &doc, nil
}

// topicChannel fetches /stats for topic and returns the topic and the named
// channel (nil if absent).
func (n *nsqdProc) topicChannel(topic, channel string) (*topicStats, *channelStats, error) {
	doc, err := n.stats(topic)
	if err != nil {
		return nil, nil, err
	}
	for i := range doc.Topics {
		tp := &doc.Topics[i]
		if tp.TopicName != topic {
			continue
		}
		for j := range tp.Channels {
			if tp.Channels[j].ChannelName == channel {
				return tp, &tp.Channels[j], nil
			}
		}
		return tp, nil, nil
	}
	return nil, nil, nil
}

// mustTopicChannel is topicChannel that fails the test if either is missing.
func (n *nsqdProc) mustTopicChannel(t *testing.T, topic, channel string) (*topicStats, *channelStats) {
	t.Helper()
	tp, ch, err := n.topicChannel(topic, channel)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if tp == nil || ch == nil {
		t.Fatalf("stats: topic %q / channel %q not found (topic found: %v)", topic, channel, tp != nil)
	}
	return tp, ch
}

// waitChannelSettled waits until the channel has nothing queued, in flight or
// deferred (FIN/REQ are sent asynchronously by go-nsq, so this is eventual).
func (n *nsqdProc) waitChannelSettled(t *testing.T, topic, channel string) (*topicStats, *channelStats) {
	t.Helper()
	var tp *topicStats
	var ch *channelStats
	waitFor(t, 15*time.Second, fmt.Sprintf("%s/%s to settle (depth 0, in_flight 0, deferred 0)", topic, channel),
		func() (bool, string) {
			var err error
			tp, ch, err = n.topicChannel(topic, channel)
			if err != nil {
				return false, err.Error()
			}
			if tp == nil || ch == nil {
				return false, "topic or channel missing from /stats"
			}
			return tp.Depth == 0 && ch.Depth == 0 && ch.InFlightCount == 0 && ch.DeferredCount == 0,
				fmt.Sprintf("topic depth=%d channel depth=%d in_flight=%d deferred=%d",
					tp.Depth, ch.Depth, ch.InFlightCount, ch.DeferredCount)
		})
	return tp, ch
}

// waitChannelExists waits until /stats lists topic/channel (go-nsq sends SUB
// without waiting for its response, so ConnectToNSQD returning is not enough).
func (n *nsqdProc) waitChannelExists(t *testing.T, topic, channel string) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("channel %s/%s to appear in /stats", topic, channel),
		func() (bool, string) {
			tp, ch, err := n.topicChannel(topic, channel)
			if err != nil {
				return false, err.Error()
			}
			return tp != nil && ch != nil, fmt.Sprintf("topic found: %v, channel found: %v", tp != nil, ch != nil)
		})
}

// httpPost issues a POST to the nsqd HTTP API and requires a 200.
func (n *nsqdProc) httpPost(t *testing.T, pathAndQuery string) {
	t.Helper()
	resp, err := httpClient.Post("http://"+n.HTTPAddr+pathAndQuery, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", pathAndQuery, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: status %d body %q", pathAndQuery, resp.StatusCode, body)
	}
}
