package testbed

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/testbroker"
)

// A real Apache Kafka broker (Options.KafkaImage, e.g. apache/kafka:4.0.0) runs
// as one KRaft node that is broker and controller at once. This path exists for
// users with a registry; the suite's own runs use airlock-testbroker.
const (
	// KafkaReadyMessage is what Kafka logs once it serves clients.
	KafkaReadyMessage = "Kafka Server started"
	// KafkaDataDir is the log directory (a named volume with Persistent).
	KafkaDataDir = "/var/lib/kafka/data"
	// KafkaSecretsDir is where the PKCS#12 files of KafkaTLS are copied.
	KafkaSecretsDir = "/etc/kafka/secrets"
	// kafkaControllerPort and kafkaInternalPort stay on the container's
	// loopback: nothing outside needs them.
	kafkaControllerPort = 9093
	kafkaInternalPort   = 9094
)

// KafkaTLS names the PKCS#12 files (in the container) and their password for a
// real Kafka broker's client listener; the client certificate is required.
type KafkaTLS struct {
	Keystore   string
	Truststore string
	Password   string
}

// KafkaConfig is what an apache/kafka container needs for one BrokerSpec.
type KafkaConfig struct {
	// Env is the container's environment: the image turns KAFKA_* variables
	// into server.properties ("_" -> ".").
	Env map[string]string
	// Ports are the container ports clients use, one per node (just 9092).
	Ports []int
}

// KafkaEnv returns the configuration of a real Kafka broker for s. The broker
// joins its zone's network and, for the test process, the zone's access network;
// one CLIENT listener serves both, advertised as the broker's alias (the host
// maps it with Broker.HostDialer, as for test brokers). Inter-broker and
// controller traffic get plaintext listeners on loopback, so the broker never
// needs a client certificate of its own.
func KafkaEnv(s BrokerSpec, t *KafkaTLS) (KafkaConfig, error) {
	if err := s.defaults(); err != nil {
		return KafkaConfig{}, err
	}
	if s.Nodes != 1 {
		return KafkaConfig{}, fmt.Errorf("%w: broker %s: a real Kafka image runs one node, not %d", ErrBadSpec, s.Name, s.Nodes)
	}
	client := "PLAINTEXT"
	if t != nil {
		if t.Keystore == "" || t.Truststore == "" || t.Password == "" {
			return KafkaConfig{}, fmt.Errorf("%w: broker %s: TLS needs a keystore, a truststore and a password", ErrBadSpec, s.Name)
		}
		client = "SSL"
	}
	loop := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	env := map[string]string{
		"CLUSTER_ID":                           kafkaClusterID(s.Name),
		"KAFKA_NODE_ID":                        "1",
		"KAFKA_PROCESS_ROLES":                  "broker,controller",
		"KAFKA_LISTENERS":                      fmt.Sprintf("CLIENT://0.0.0.0:%d,INTERNAL://%s,CONTROLLER://%s", FirstKafkaPort, loop(kafkaInternalPort), loop(kafkaControllerPort)),
		"KAFKA_ADVERTISED_LISTENERS":           fmt.Sprintf("CLIENT://%s,INTERNAL://%s", net.JoinHostPort(s.Name, strconv.Itoa(FirstKafkaPort)), loop(kafkaInternalPort)),
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CLIENT:" + client + ",INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME":     "INTERNAL",
		"KAFKA_CONTROLLER_LISTENER_NAMES":      "CONTROLLER",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":       "1@" + loop(kafkaControllerPort),
		"KAFKA_LOG_DIRS":                       KafkaDataDir,
		// One node: internal topics cannot have more replicas.
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
		// Like the test broker: topics exist because a spec created them.
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
	}
	if t != nil {
		for k, v := range map[string]string{
			"KAFKA_SSL_KEYSTORE_TYPE":       "PKCS12",
			"KAFKA_SSL_KEYSTORE_LOCATION":   t.Keystore,
			"KAFKA_SSL_KEYSTORE_PASSWORD":   t.Password,
			"KAFKA_SSL_KEY_PASSWORD":        t.Password,
			"KAFKA_SSL_TRUSTSTORE_TYPE":     "PKCS12",
			"KAFKA_SSL_TRUSTSTORE_LOCATION": t.Truststore,
			"KAFKA_SSL_TRUSTSTORE_PASSWORD": t.Password,
			"KAFKA_SSL_CLIENT_AUTH":         "required",
		} {
			env[k] = v
		}
	}
	return KafkaConfig{Env: env, Ports: s.kafkaPorts()}, nil
}

// kafkaClusterID derives a stable KRaft cluster id (16 bytes, base64url without
// padding, like kafka-storage random-uuid) from the broker's name.
func kafkaClusterID(name string) string {
	sum := sha256.Sum256([]byte("airlock-e2e/" + name))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// createTopics creates the seed topics of a real Kafka broker, which has no
// --seed-topics; existing ones (a restarted persistent broker) are fine.
func (b *Broker) createTopics(ctx context.Context) error {
	if len(b.Spec.SeedTopics) == 0 {
		return nil
	}
	seeds, err := testbroker.ParseSeedTopics(strings.Join(b.Spec.SeedTopics, ","))
	if err != nil {
		return fmt.Errorf("%w: broker %s: %v", ErrBadSpec, b.Spec.Name, err)
	}
	cl, err := kgo.NewClient(b.KgoOpts()...)
	if err != nil {
		return fmt.Errorf("client for %s: %w", b.Spec.Name, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, t := range seeds {
		parts := t.Partitions
		if parts <= 0 {
			parts = -1 // the broker's default
		}
		resp, err := adm.CreateTopic(ctx, parts, -1, nil, t.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s on %s: %w", t.Name, b.Spec.Name, err)
		}
	}
	return nil
}
