// tls_test.go owns the TLS checks: go-nsq producers and consumers upgrade to TLS
// (alone and with snappy) against a certificate generated here, /stats reports the
// session, and --tls-required=tcp-https refuses plain clients' commands.
package nsqcompat

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

// selfSignedCert writes a certificate for 127.0.0.1 and its key as PEM files and
// returns their paths and a pool that trusts the certificate.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "nsqd-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDer, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDer}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func tlsConfig(pool *x509.CertPool, snappy bool) *nsq.Config {
	cfg := nsq.NewConfig()
	cfg.TlsV1 = true
	cfg.TlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	cfg.Snappy = snappy
	cfg.MaxInFlight = 50
	return cfg
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	n := startNSQD(t, "--tls-cert="+certFile, "--tls-key="+keyFile, "--https-address=127.0.0.1:0",
		"--tls-required=tcp-https")

	for _, snappy := range []bool{false, true} {
		snappy := snappy
		t.Run(fmt.Sprintf("snappy=%v", snappy), func(t *testing.T) {
			testTLSPubSub(t, n, pool, snappy)
		})
	}

	t.Run("https", func(t *testing.T) {
		addr := n.httpsAddress()
		if addr == "" {
			t.Fatal("no `HTTPS: listening on` line in the log")
		}
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := c.Get("https://" + addr + "/ping")
		if err != nil {
			t.Fatalf("GET https://%s/ping: %v", addr, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "OK" {
			t.Fatalf("HTTPS /ping: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("plain client refused", func(t *testing.T) {
		logs := newClientLog(t)
		p, err := nsq.NewProducer(n.TCPAddr, nsq.NewConfig())
		if err != nil {
			t.Fatal(err)
		}
		p.SetLogger(logs, nsq.LogLevelInfo)
		t.Cleanup(p.Stop)
		err = bounded(t, "Publish", func() error { return p.Publish("compat_tls_plain", []byte("x")) })
		if err == nil || !strings.Contains(err.Error(), "E_INVALID cannot PUB in current state (TLS required)") {
			t.Fatalf("plain publish with --tls-required: got %v", err)
		}
	})
}

func testTLSPubSub(t *testing.T, n *nsqdProc, pool *x509.CertPool, snappy bool) {
	const total = 200
	topic := fmt.Sprintf("compat_tls_%v", snappy)
	logs := newClientLog(t)
	recv := make(chan string, total*2)
	consumer := newConsumer(t, topic, "ch", tlsConfig(pool, snappy), logs)
	consumer.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		recv <- string(m.Body)
		return nil
	}))
	connectConsumer(t, n, consumer, topic, "ch")

	p, err := nsq.NewProducer(n.TCPAddr, tlsConfig(pool, snappy))
	if err != nil {
		t.Fatal(err)
	}
	p.SetLogger(logs, nsq.LogLevelInfo)
	t.Cleanup(p.Stop)
	for i := 0; i < total; i++ {
		i := i
		if err := bounded(t, "Publish", func() error { return p.Publish(topic, []byte(fmt.Sprintf("tls-%d", i))) }); err != nil {
			t.Fatalf("Publish #%d over TLS: %v", i, err)
		}
	}
	seen := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(seen) < total {
		select {
		case b := <-recv:
			seen[b] = true
		case <-deadline:
			t.Fatalf("received %d/%d messages over TLS", len(seen), total)
		}
	}
	for i := 0; i < total; i++ {
		if !seen[fmt.Sprintf("tls-%d", i)] {
			t.Fatalf("message tls-%d missing", i)
		}
	}
	st, err := n.stats(topic)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Topics[0].Channels[0].Clients[0]
	if !c.TLS || !strings.HasPrefix(c.TLSVersion, "TLS1.") || c.TLSCipherSuite == "" || c.Snappy != snappy {
		t.Fatalf("/stats client does not report the TLS session: %+v", c)
	}
}
