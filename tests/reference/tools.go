//go:build tools

// Package nsqreference pins the reference Go NSQ v1.3.0 daemons, nsqadmin and the six tools that
// the tests compare our binaries against (data-dir interchange, benchmarks, tool side-by-sides).
// They are built into ./bin by
// `make reference`; nothing of ours links against them.
package nsqreference

import (
	_ "github.com/nsqio/nsq/apps/nsq_stat"
	_ "github.com/nsqio/nsq/apps/nsq_tail"
	_ "github.com/nsqio/nsq/apps/nsq_to_file"
	_ "github.com/nsqio/nsq/apps/nsq_to_http"
	_ "github.com/nsqio/nsq/apps/nsq_to_nsq"
	_ "github.com/nsqio/nsq/apps/nsqadmin"
	_ "github.com/nsqio/nsq/apps/nsqd"
	_ "github.com/nsqio/nsq/apps/nsqlookupd"
	_ "github.com/nsqio/nsq/apps/to_nsq"
)
