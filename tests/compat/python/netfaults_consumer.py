"""The pynsq consumer of the network-fault test (tests/tests/netfaults.rs).

Finds nsqd nodes through nsqlookupd, prints "MSG <body>" on stdout for every
message it handles (pynsq then sends FIN) and logs pynsq's lines on stderr.
Runs until killed. Usage: netfaults_consumer.py LOOKUPD_HTTP[,..] TOPIC CHANNEL POLL_S
"""

import logging
import sys

import nsq


def main():
    lookupds, topic, channel, poll = sys.argv[1:5]
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")

    def handle(message):
        sys.stdout.write("MSG %s\n" % message.body.decode())
        sys.stdout.flush()
        return True

    nsq.Reader(
        topic=topic,
        channel=channel,
        message_handler=handle,
        lookupd_http_addresses=["http://" + a for a in lookupds.split(",")],
        lookupd_poll_interval=int(poll),
        lookupd_poll_jitter=0.1,
        max_in_flight=200,
        heartbeat_interval=2,
    )
    nsq.run()


if __name__ == "__main__":
    main()
