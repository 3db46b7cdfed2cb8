#!/usr/bin/python3
"""Drive kafka-python (a real third-party client) through airlock-proxy.

Used by proxy/thirdparty_test.go. It produces --count records, consumes them back
with a consumer group and commits, then asks for cluster metadata and the group's
committed offsets, and prints one JSON object on stdout:

  {"produced": N, "consumed": N, "values": [...], "brokers": [{"node_id", "host",
   "port"}], "cluster_brokers": [...], "coordinator": {...}, "committed": N,
   "api_version": [x, y, z]}

Every broker address the client learned is printed so the Go test can check that
none of them is an upstream (non-proxy) address. Errors go to stderr with exit 1.
"""

import argparse
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds for the consume phase")
    return ap.parse_args()


def main():
    args = parse_args()
    out = {}

    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=5,
                             request_timeout_ms=10000, max_block_ms=10000)
    futures = [producer.send(args.topic, value=("py-%d" % i).encode()) for i in range(args.count)]
    producer.flush(timeout=15)
    produced = 0
    for f in futures:
        f.get(timeout=10)  # raises on a failed send
        produced += 1
    out["api_version"] = list(producer.config["api_version"])
    producer.close(timeout=5)
    out["produced"] = produced

    consumer = KafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             request_timeout_ms=15000, session_timeout_ms=10000,
                             heartbeat_interval_ms=1000)
    values = []
    deadline = time.monotonic() + args.timeout
    while len(values) < args.count and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            values.extend(r.value.decode() for r in records)
    consumer.commit()
    out["consumed"] = len(values)
    out["values"] = values
    # Every broker the consumer's metadata knows, and the coordinator it found.
    out["brokers"] = [{"node_id": b.nodeId, "host": b.host, "port": b.port}
                      for b in consumer._client.cluster.brokers()]
    coord_id = consumer._coordinator.coordinator_id
    coord = consumer._client.cluster.broker_metadata(coord_id) if coord_id is not None else None
    out["coordinator"] = None if coord is None else {"node_id": coord.nodeId, "host": coord.host, "port": coord.port}
    consumer.close(autocommit=False)

    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=10000)
    cluster = admin.describe_cluster()
    out["cluster_brokers"] = [{"node_id": b["node_id"], "host": b["host"], "port": b["port"]}
                              for b in cluster["brokers"]]
    offsets = admin.list_consumer_group_offsets(args.group)
    out["committed"] = sum(o.offset for tp, o in offsets.items()
                           if isinstance(tp, TopicPartition) and tp.topic == args.topic and o.offset > 0)
    admin.close()

    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # the Go test prints stderr on failure
        print("kafka_python_client: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
