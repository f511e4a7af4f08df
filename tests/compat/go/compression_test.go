// compression_test.go owns the negotiated-compression checks: go-nsq producers and
// consumers with Snappy or Deflate enabled move messages of every size intact, and
// /stats reports the feature on the client.
package nsqcompat

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func TestCompression(t *testing.T) {
	n := startNSQD(t)
	for _, mode := range []string{"snappy", "deflate"} {
		mode := mode
		t.Run(mode, func(t *testing.T) { testCompressed(t, n, mode) })
	}
}

func compressedConfig(mode string) *nsq.Config {
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 50
	if mode == "snappy" {
		cfg.Snappy = true
	} else {
		cfg.Deflate = true
		cfg.DeflateLevel = 5
	}
	return cfg
}

// compressedBody makes message i: sizes from 16 bytes to >64 KiB, half of them
// compressible text and half pseudo-random bytes.
func compressedBody(i int) []byte {
	size := 16 + (i*7919)%(70*1024)
	b := make([]byte, size)
	x := uint32(i*2654435761 + 1)
	for j := range b {
		if i%2 == 0 {
			b[j] = "abcdefgh"[j%8]
		} else {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			b[j] = byte(x)
		}
	}
	copy(b, fmt.Sprintf("%d|", i))
	return b
}

func testCompressed(t *testing.T, n *nsqdProc, mode string) {
	const total = 300
	topic := "compat_compress_" + mode
	channel := "ch"
	logs := newClientLog(t)

	recv := make(chan []byte, total*2)
	consumer := newConsumer(t, topic, channel, compressedConfig(mode), logs)
	consumer.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		recv <- append([]byte(nil), m.Body...)
		return nil
	}))
	connectConsumer(t, n, consumer, topic, channel)

	producer, err := nsq.NewProducer(n.TCPAddr, compressedConfig(mode))
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	producer.SetLogger(logs, nsq.LogLevelInfo)
	t.Cleanup(producer.Stop)
	for i := 0; i < total; i++ {
		i := i
		if err := bounded(t, "Publish", func() error { return producer.Publish(topic, compressedBody(i)) }); err != nil {
			t.Fatalf("Publish #%d over %s: %v", i, mode, err)
		}
	}

	seen := make(map[int]bool)
	deadline := time.After(30 * time.Second)
	for len(seen) < total {
		select {
		case b := <-recv:
			var i int
			if _, err := fmt.Sscanf(string(b), "%d|", &i); err != nil {
				t.Fatalf("unparsable body prefix %q", b[:min(len(b), 16)])
			}
			if !bytes.Equal(b, compressedBody(i)) {
				t.Fatalf("message %d corrupted over %s (len %d)", i, mode, len(b))
			}
			seen[i] = true
		case <-deadline:
			t.Fatalf("received %d/%d messages over %s", len(seen), total, mode)
		}
	}

	st, err := n.stats(topic)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if len(st.Topics) != 1 || len(st.Topics[0].Channels) != 1 || len(st.Topics[0].Channels[0].Clients) != 1 {
		t.Fatalf("unexpected stats shape: %+v", st)
	}
	c := st.Topics[0].Channels[0].Clients[0]
	if (mode == "snappy" && !c.Snappy) || (mode == "deflate" && !c.Deflate) {
		t.Fatalf("/stats client does not report %s: %+v", mode, c)
	}
}
