//go:build tools

// Package nsqreference pins the reference Go NSQ v1.3.0 daemons (and nsqadmin) that the tests compare
// our binaries against (data-dir interchange, benchmarks). They are built into ./bin by
// `make reference`; nothing of ours links against them.
package nsqreference

import (
	_ "github.com/nsqio/nsq/apps/nsqadmin"
	_ "github.com/nsqio/nsq/apps/nsqd"
	_ "github.com/nsqio/nsq/apps/nsqlookupd"
)
