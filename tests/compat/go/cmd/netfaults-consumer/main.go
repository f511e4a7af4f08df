// netfaults-consumer is the go-nsq consumer of the network-fault test
// (tests/tests/netfaults.rs): it finds nsqd nodes through nsqlookupd, prints
// "MSG <body>" on stdout for every message it handles (go-nsq then sends FIN),
// and logs go-nsq's own lines on stderr. It runs until killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/nsqio/go-nsq"
)

func main() {
	lookupds := flag.String("lookupd", "", "comma-separated nsqlookupd HTTP addresses")
	topic := flag.String("topic", "", "topic")
	channel := flag.String("channel", "", "channel")
	poll := flag.Duration("poll", 2*time.Second, "lookupd poll interval")
	heartbeat := flag.Duration("heartbeat", 2*time.Second, "heartbeat interval")
	readTimeout := flag.Duration("read-timeout", 5*time.Second, "read timeout")
	flag.Parse()

	cfg := nsq.NewConfig()
	cfg.LookupdPollInterval = *poll
	cfg.HeartbeatInterval = *heartbeat
	cfg.ReadTimeout = *readTimeout
	cfg.DialTimeout = time.Second
	cfg.MaxInFlight = 200
	consumer, err := nsq.NewConsumer(*topic, *channel, cfg)
	if err != nil {
		log.Fatalf("NewConsumer: %v", err)
	}
	consumer.SetLogger(log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds), nsq.LogLevelInfo)
	consumer.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		fmt.Printf("MSG %s\n", m.Body)
		return nil
	}))
	if err := consumer.ConnectToNSQLookupds(strings.Split(*lookupds, ",")); err != nil {
		log.Fatalf("ConnectToNSQLookupds: %v", err)
	}
	<-consumer.StopChan
}
