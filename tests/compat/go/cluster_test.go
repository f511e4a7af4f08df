// cluster_test.go owns the multi-daemon harness for the discovery tests: any
// daemon binary (nsqd or nsqlookupd) on any loopback address, stopping it with
// a chosen signal and restarting it on the same ports and data dir, a small
// nsqd+nsqlookupd cluster, and typed access to the nsqlookupd HTTP API
// (/lookup, /nodes, /topic/tombstone). Single-nsqd tests keep using startNSQD
// (harness_test.go).
package nsqcompat

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// referenceLookupd is the Go nsqlookupd v1.3.0 that `make reference` builds.
const referenceLookupd = "../../reference/bin/nsqlookupd"

// lookupdBin is the nsqlookupd under test: $NSQLOOKUPD_BIN, else the
// nsqlookupd beside $NSQD_BIN (ours for target/debug/nsqd, the reference for
// tests/reference/bin/nsqd), else the Go reference. The choice is logged.
func lookupdBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("NSQLOOKUPD_BIN")
	if bin == "" {
		beside := filepath.Join(filepath.Dir(os.Getenv("NSQD_BIN")), "nsqlookupd")
		if _, err := os.Stat(beside); os.Getenv("NSQD_BIN") != "" && err == nil {
			bin = beside
		} else if abs, err := filepath.Abs(referenceLookupd); err == nil {
			bin = abs
		}
		t.Logf("NSQLOOKUPD_BIN is not set: using %s", bin)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("nsqlookupd binary %q is not usable (set NSQLOOKUPD_BIN, or `make reference`): %v", bin, err)
	}
	return bin
}

func nsqdBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("NSQD_BIN")
	if bin == "" {
		t.Fatal("NSQD_BIN is not set: run as `NSQD_BIN=/abs/path/to/nsqd go test -count=1 -v ./...`")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("NSQD_BIN=%q is not usable: %v", bin, err)
	}
	return bin
}

// daemon is one process of a daemon binary. It embeds nsqdProc for the output
// capture and, for nsqd, the /stats helpers of harness_test.go.
type daemon struct {
	*nsqdProc
	label   string
	bin     string
	args    []string // without --tcp-address / --http-address
	host    string   // loopback address both listeners bind to
	stopped bool     // stopped on purpose by the test
}

// startDaemon runs bin with --tcp-address=host:tcpPort --http-address=host:httpPort
// (port "0" for ephemeral) plus args, waits for both listen lines and GET /ping,
// and registers a cleanup that stops it (printing its output if the test failed).
func startDaemon(t *testing.T, label, bin, host, tcpPort, httpPort string, args ...string) *daemon {
	t.Helper()
	full := append([]string{
		"--tcp-address=" + net.JoinHostPort(host, tcpPort),
		"--http-address=" + net.JoinHostPort(host, httpPort),
	}, args...)
	n := &nsqdProc{exited: make(chan struct{})}
	d := &daemon{nsqdProc: n, label: label, bin: bin, args: args, host: host}
	stderr := &lineLog{mu: &n.outMu, name: "stderr", all: &n.out, scan: true}
	stdout := &lineLog{mu: &n.outMu, name: "stdout", all: &n.out}
	n.streams = []*lineLog{stderr, stdout}
	n.cmd = exec.Command(bin, full...)
	n.cmd.Stderr = stderr
	n.cmd.Stdout = stdout
	n.cmd.WaitDelay = 2 * time.Second
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("%s: failed to start %s: %v", label, bin, err)
	}
	t.Logf("%s: started pid %d: %s %s", label, n.cmd.Process.Pid, bin, strings.Join(full, " "))
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		if !d.stopped {
			select {
			case <-n.exited:
				t.Errorf("%s (pid %d) exited on its own before the test finished (exit: %v)",
					label, n.cmd.Process.Pid, exitStatus(n.waitErr))
			default:
				d.signal(t, syscall.SIGTERM)
			}
		}
		if t.Failed() {
			t.Logf("---- %s output (pid %d) ----\n%s---- end %s output ----", label, n.cmd.Process.Pid, n.output(), label)
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
			t.Fatalf("%s exited before announcing its listeners (exit: %v)\n%s", label, exitStatus(n.waitErr), n.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log `TCP: listening on <addr>` and `HTTP: listening on <addr>` on stderr within %s (tcp=%q http=%q)",
				label, startupTimeout, tcp, httpA)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, a := range []string{n.TCPAddr, n.HTTPAddr} {
		if h, _, err := net.SplitHostPort(a); err != nil || h != host {
			t.Fatalf("%s announced unexpected listen address %q (want %s:<port>)", label, a, host)
		}
	}
	waitFor(t, startupTimeout, label+" GET /ping -> 200 OK", func() (bool, string) {
		status, body, err := httpGet(n.HTTPAddr, "/ping")
		if err != nil {
			return false, err.Error()
		}
		return status == 200 && string(body) == "OK", fmt.Sprintf("status %d body %q", status, body)
	})
	t.Logf("%s ready: tcp=%s http=%s", label, n.TCPAddr, n.HTTPAddr)
	return d
}

// signal sends sig and waits (bounded) for the process to exit; after SIGTERM
// the exit status must be 0. Marks the daemon as stopped on purpose.
func (d *daemon) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	d.stopped = true
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
		if sig == syscall.SIGTERM && d.waitErr != nil {
			t.Errorf("%s (pid %d) exited with %v after SIGTERM (want status 0)", d.label, d.cmd.Process.Pid, d.waitErr)
		}
		return
	case <-time.After(stopTimeout):
	}
	t.Errorf("%s (pid %d) did not exit within %s of %v; killing it", d.label, d.cmd.Process.Pid, stopTimeout, sig)
	_ = d.cmd.Process.Kill()
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		t.Errorf("%s (pid %d) still not reaped after SIGKILL", d.label, d.cmd.Process.Pid)
	}
}

// restart starts the same binary again with the same arguments (so the same
// data dir) on the TCP and HTTP ports the stopped process had.
func (d *daemon) restart(t *testing.T) *daemon {
	t.Helper()
	if !d.stopped {
		t.Fatalf("%s: restart of a running daemon", d.label)
	}
	_, tcpPort, _ := net.SplitHostPort(d.TCPAddr)
	_, httpPort, _ := net.SplitHostPort(d.HTTPAddr)
	nd := startDaemon(t, d.label+"'", d.bin, d.host, tcpPort, httpPort, d.args...)
	if nd.TCPAddr != d.TCPAddr || nd.HTTPAddr != d.HTTPAddr {
		t.Fatalf("%s came back on tcp=%s http=%s, want tcp=%s http=%s", nd.label, nd.TCPAddr, nd.HTTPAddr, d.TCPAddr, d.HTTPAddr)
	}
	return nd
}

// cluster is two nsqlookupd on 127.0.0.1 and nsqd nodes on 127.0.0.2, .3, ...
// each registered with both lookupds and broadcasting its own address.
type cluster struct {
	lookupds []*daemon
	nodes    []*daemon
}

func startCluster(t *testing.T, numNodes int) *cluster {
	t.Helper()
	lbin, nbin := lookupdBin(t), nsqdBin(t)
	c := &cluster{}
	for i := 1; i <= 2; i++ {
		// nsqd queries /channels at the lookupd's broadcast address: an IP, so
		// nothing is resolved and nothing leaves the loopback.
		c.lookupds = append(c.lookupds, startDaemon(t, fmt.Sprintf("nsqlookupd%d", i), lbin, "127.0.0.1", "0", "0",
			"--broadcast-address=127.0.0.1"))
	}
	for i := 0; i < numNodes; i++ {
		host := fmt.Sprintf("127.0.0.%d", i+2)
		args := []string{"--broadcast-address=" + host, "--data-path=" + t.TempDir()}
		for _, l := range c.lookupds {
			args = append(args, "--lookupd-tcp-address="+l.TCPAddr)
		}
		c.nodes = append(c.nodes, startDaemon(t, "nsqd@"+host, nbin, host, "0", "0", args...))
	}
	return c
}

// lookupdHTTP are the lookupds' HTTP addresses (what consumers are given).
func (c *cluster) lookupdHTTP() []string {
	var out []string
	for _, l := range c.lookupds {
		out = append(out, l.HTTPAddr)
	}
	return out
}

// nodeTCP are the TCP addresses of nodes, sorted.
func nodeTCP(nodes ...*daemon) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.TCPAddr)
	}
	sort.Strings(out)
	return out
}

// ---- nsqlookupd HTTP API ----

type peerInfo struct {
	RemoteAddress    string `json:"remote_address"`
	Hostname         string `json:"hostname"`
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
}

// tcpAddr is how consumers reach the producer: broadcast_address:tcp_port.
func (p peerInfo) tcpAddr() string {
	return net.JoinHostPort(p.BroadcastAddress, fmt.Sprint(p.TCPPort))
}

type lookupDoc struct {
	Channels  []string   `json:"channels"`
	Producers []peerInfo `json:"producers"`
}

type nodeInfo struct {
	peerInfo
	Tombstones []bool   `json:"tombstones"`
	Topics     []string `json:"topics"`
}

func httpGet(addr, pathAndQuery string) (int, []byte, error) {
	resp, err := httpClient.Get("http://" + addr + pathAndQuery)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func getJSON(addr, pathAndQuery string, v interface{}) (int, error) {
	status, body, err := httpGet(addr, pathAndQuery)
	if err != nil {
		return status, err
	}
	if status != 200 {
		return status, fmt.Errorf("GET %s%s: status %d body %q", addr, pathAndQuery, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return status, fmt.Errorf("GET %s%s: bad JSON (%v): %q", addr, pathAndQuery, err, body)
	}
	return status, nil
}

// lookupProducers returns the sorted broadcast_address:tcp_port of the
// producers lookupd at addr returns for topic (none for a 404).
func lookupProducers(addr, topic string) ([]string, *lookupDoc, error) {
	var doc lookupDoc
	status, err := getJSON(addr, "/lookup?topic="+url.QueryEscape(topic), &doc)
	if status == 404 {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, p := range doc.Producers {
		out = append(out, p.tcpAddr())
	}
	sort.Strings(out)
	return out, &doc, nil
}

// waitLookup waits until every lookupd of c answers /lookup?topic with
// exactly the producers want.
func (c *cluster) waitLookup(t *testing.T, topic string, want []string) {
	t.Helper()
	sort.Strings(want)
	for _, l := range c.lookupds {
		waitFor(t, 15*time.Second, fmt.Sprintf("%s /lookup?topic=%s to list %v", l.label, topic, want),
			func() (bool, string) {
				got, _, err := lookupProducers(l.HTTPAddr, topic)
				if err != nil {
					return false, err.Error()
				}
				return strings.Join(got, ",") == strings.Join(want, ","), fmt.Sprintf("producers %v", got)
			})
	}
}

func lookupNodes(addr string) ([]nodeInfo, error) {
	var doc struct {
		Producers []nodeInfo `json:"producers"`
	}
	_, err := getJSON(addr, "/nodes", &doc)
	return doc.Producers, err
}

// nodeTopics returns, from lookupd /nodes, the topics of the node whose
// broadcast_address:tcp_port is tcpAddr with their tombstone flags, and
// whether the node is listed at all.
func nodeTopics(addr, tcpAddr string) (map[string]bool, bool, error) {
	nodes, err := lookupNodes(addr)
	if err != nil {
		return nil, false, err
	}
	for _, n := range nodes {
		if n.tcpAddr() != tcpAddr {
			continue
		}
		if len(n.Topics) != len(n.Tombstones) {
			return nil, true, fmt.Errorf("/nodes entry %s has %d topics but %d tombstones", tcpAddr, len(n.Topics), len(n.Tombstones))
		}
		out := map[string]bool{}
		for i, topic := range n.Topics {
			out[topic] = n.Tombstones[i]
		}
		return out, true, nil
	}
	return nil, false, nil
}

// postOK issues a POST to addr and requires a 200.
func postOK(t *testing.T, addr, pathAndQuery string) {
	t.Helper()
	resp, err := httpClient.Post("http://"+addr+pathAndQuery, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s%s: %v", addr, pathAndQuery, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s%s: status %d body %q", addr, pathAndQuery, resp.StatusCode, body)
	}
}

// clientCount is the number of clients subscribed to topic/channel on n
// (0 when either does not exist).
func (n *nsqdProc) clientCount(topic, channel string) (int, error) {
	_, ch, err := n.topicChannel(topic, channel)
	if err != nil || ch == nil {
		return 0, err
	}
	return ch.ClientCount, nil
}

// count returns how many log lines contain sub.
func (l *clientLog) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), sub)
}
