package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/proxy/auth"
)

func TestSideAddresses(t *testing.T) {
	tests := []struct {
		zone      Zone
		nodes     int
		wantAddrs []string
		wantToxi  []string
	}{
		{Source, 3, []string{"source-toxi:19092", "source-toxi:19093", "source-toxi:19094"}, []string{"source-kafka-0", "source-kafka-1", "source-kafka-2"}},
		{Target, 1, []string{"target-toxi:29092"}, []string{"target-kafka-0"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.zone), func(t *testing.T) {
			s := &Side{Zone: tt.zone, nodes: tt.nodes}
			if got := s.BridgeAddrs(); !reflect.DeepEqual(got, tt.wantAddrs) {
				t.Errorf("BridgeAddrs %v, want %v", got, tt.wantAddrs)
			}
			if s.Bootstrap() != tt.wantAddrs[0] {
				t.Errorf("Bootstrap %s", s.Bootstrap())
			}
			if got := s.ToxiproxyNames(); !reflect.DeepEqual(got, tt.wantToxi) {
				t.Errorf("ToxiproxyNames %v, want %v", got, tt.wantToxi)
			}
		})
	}
}

func TestProxyArgs(t *testing.T) {
	secret := func(name string) string { return "/secrets/" + name }
	tests := []struct {
		zone  Zone
		extra []string
		want  map[string]string // flag -> value ("" for a boolean flag)
	}{
		{Source, nil, map[string]string{
			"--bootstrap-server-mapping":    "source-kafka:9092,0.0.0.0:19092,source-toxi:19092",
			"--dynamic-sequential-min-port": "19092",
			"--dynamic-advertised-listener": "source-toxi:{{.Port}}",
			"--client-tls-cert-file":        "/secrets/source-proxy.crt",
			"--client-sasl-users-file":      "/secrets/users.txt",
			"--upstream-tls-cert-file":      "/secrets/proxy.crt",
			"--dynamic-node-id-ports":       "",
			"--client-tls":                  "",
			"--upstream-tls":                "",
		}},
		{Target, []string{"--log-level", "debug"}, map[string]string{
			"--bootstrap-server-mapping":    "target-kafka:9092,0.0.0.0:29092,target-toxi:29092",
			"--dynamic-sequential-min-port": "29092",
			"--dynamic-advertised-listener": "target-toxi:{{.Port}}",
			"--client-tls-key-file":         "/secrets/target-proxy.key",
			"--log-level":                   "debug",
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.zone), func(t *testing.T) {
			args := proxyArgs(tt.zone, string(tt.zone)+"-kafka:9092", secret, tt.extra)
			for flag, val := range tt.want {
				i := slices.Index(args, flag)
				if i < 0 {
					t.Errorf("%s missing from %q", flag, args)
					continue
				}
				if val == "" {
					if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
						t.Errorf("%s is followed by the value %q, want a boolean flag", flag, args[i+1])
					}
					continue
				}
				if i+1 >= len(args) || args[i+1] != val {
					t.Errorf("%s = %q, want %q", flag, args[min(i+1, len(args)-1)], val)
				}
			}
		})
	}
}

func TestKafkaEnv(t *testing.T) {
	tlsFiles := &KafkaTLS{Keystore: "/etc/kafka/secrets/source-kafka.p12", Truststore: "/etc/kafka/secrets/truststore.p12", Password: "pw"}
	tests := []struct {
		name    string
		spec    BrokerSpec
		tls     *KafkaTLS
		want    map[string]string
		absent  []string
		wantErr bool
	}{
		{
			name: "plaintext",
			spec: BrokerSpec{Zone: Source},
			want: map[string]string{
				"KAFKA_PROCESS_ROLES":                    "broker,controller",
				"KAFKA_LISTENERS":                        "CLIENT://0.0.0.0:9092,INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
				"KAFKA_ADVERTISED_LISTENERS":             "CLIENT://source-kafka:9092,INTERNAL://127.0.0.1:9094",
				"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":   "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
				"KAFKA_CONTROLLER_QUORUM_VOTERS":         "1@127.0.0.1:9093",
				"KAFKA_CONTROLLER_LISTENER_NAMES":        "CONTROLLER",
				"KAFKA_INTER_BROKER_LISTENER_NAME":       "INTERNAL",
				"KAFKA_NODE_ID":                          "1",
				"KAFKA_LOG_DIRS":                         KafkaDataDir,
				"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
			},
			absent: []string{"KAFKA_SSL_KEYSTORE_LOCATION", "KAFKA_SSL_CLIENT_AUTH"},
		},
		{
			name: "mutual TLS on the client listener",
			spec: BrokerSpec{Name: "target-kafka", Zone: Target},
			tls:  tlsFiles,
			want: map[string]string{
				"KAFKA_ADVERTISED_LISTENERS":           "CLIENT://target-kafka:9092,INTERNAL://127.0.0.1:9094",
				"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CLIENT:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
				"KAFKA_SSL_KEYSTORE_LOCATION":          tlsFiles.Keystore,
				"KAFKA_SSL_KEYSTORE_TYPE":              "PKCS12",
				"KAFKA_SSL_TRUSTSTORE_LOCATION":        tlsFiles.Truststore,
				"KAFKA_SSL_KEY_PASSWORD":               "pw",
				"KAFKA_SSL_CLIENT_AUTH":                "required",
			},
		},
		{name: "several nodes", spec: BrokerSpec{Zone: Source, Nodes: 3}, wantErr: true},
		{name: "no zone", spec: BrokerSpec{}, wantErr: true},
		{name: "TLS without a password", spec: BrokerSpec{Zone: Source}, tls: &KafkaTLS{Keystore: "k", Truststore: "t"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc, err := KafkaEnv(tt.spec, tt.tls)
			if tt.wantErr {
				if !errors.Is(err, ErrBadSpec) {
					t.Fatalf("err = %v, want ErrBadSpec", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if kc.Env[k] != v {
					t.Errorf("%s = %q, want %q", k, kc.Env[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := kc.Env[k]; ok {
					t.Errorf("%s is set", k)
				}
			}
			if id := kc.Env["CLUSTER_ID"]; len(id) != 22 || id != kafkaClusterID(tt.spec.Name+defaultName(tt.spec)) {
				t.Errorf("CLUSTER_ID %q: want 22 characters, stable per broker", id)
			}
			if !reflect.DeepEqual(kc.Ports, []int{FirstKafkaPort}) {
				t.Errorf("ports %v", kc.Ports)
			}
		})
	}
	if kafkaClusterID("source-kafka") == kafkaClusterID("target-kafka") {
		t.Error("two brokers share a cluster id")
	}
}

// defaultName is the name BrokerSpec.defaults gives a spec without one.
func defaultName(s BrokerSpec) string {
	if s.Name != "" {
		return ""
	}
	return string(s.Zone) + "-kafka"
}

func TestPersistentBrokerCmd(t *testing.T) {
	s := BrokerSpec{Zone: Source, Persistent: true, Args: []string{"--tls-cert-file", "/secrets/x.crt"}}
	if err := s.defaults(); err != nil {
		t.Fatal(err)
	}
	cmd := strings.Join(s.cmd(), " ")
	if !strings.Contains(cmd, "--data-dir "+DataDir+" --sync-writes --tls-cert-file") {
		t.Errorf("cmd %q: want the data dir with synced writes, before the extra args", cmd)
	}
}

func TestContainerSpecFilesAndVolumes(t *testing.T) {
	ok := ContainerSpec{Name: "b", Image: "img", Zones: []Zone{Source}}
	tests := []struct {
		name string
		edit func(*ContainerSpec)
		err  bool
	}{
		{"file", func(s *ContainerSpec) { s.Files = []File{{HostPath: "/h", ContainerPath: "/secrets/a"}} }, false},
		{"relative container path", func(s *ContainerSpec) { s.Files = []File{{HostPath: "/h", ContainerPath: "a"}} }, true},
		{"no host path", func(s *ContainerSpec) { s.Files = []File{{ContainerPath: "/a"}} }, true},
		{"volume", func(s *ContainerSpec) { s.Volumes = []VolumeMount{{Volume: "v", Target: "/data"}} }, false},
		{"volume without name", func(s *ContainerSpec) { s.Volumes = []VolumeMount{{Target: "/data"}} }, true},
		{"volume relative target", func(s *ContainerSpec) { s.Volumes = []VolumeMount{{Volume: "v", Target: "data"}} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			if err := s.validate(); (err != nil) != tt.err || (err != nil && !errors.Is(err, ErrBadSpec)) {
				t.Errorf("validate = %v, want error %v", err, tt.err)
			}
		})
	}
}

func TestFilesArchive(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"ca.crt": "CA", "b.key": "KEY"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := ContainerSpec{Name: "b", Files: []File{
		{HostPath: filepath.Join(dir, "ca.crt"), ContainerPath: "/secrets/ca.crt"},
		{HostPath: filepath.Join(dir, "b.key"), ContainerPath: "/secrets/b.key", Mode: 0o600},
		{HostPath: filepath.Join(dir, "ca.crt"), ContainerPath: "/etc/kafka/secrets/ca.crt"},
	}}
	b, err := s.filesArchive()
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		mode int64
		data string
	}
	got := map[string]entry{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		got[h.Name] = entry{h.Mode, string(data)}
		order = append(order, h.Name)
	}
	want := map[string]entry{
		"secrets/":                 {0o755, ""},
		"secrets/ca.crt":           {0o644, "CA"},
		"secrets/b.key":            {0o600, "KEY"},
		"etc/":                     {0o755, ""},
		"etc/kafka/":               {0o755, ""},
		"etc/kafka/secrets/":       {0o755, ""},
		"etc/kafka/secrets/ca.crt": {0o644, "CA"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("archive %v, want %v", got, want)
	}
	if slices.Index(order, "etc/") > slices.Index(order, "etc/kafka/") {
		t.Errorf("parents after children: %v", order)
	}
	if _, err := (ContainerSpec{Name: "x", Files: []File{{HostPath: filepath.Join(dir, "missing"), ContainerPath: "/m"}}}).filesArchive(); err == nil {
		t.Error("a missing host file made an archive")
	}
}

func TestMetrics(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "proxy-metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	m, err := ParseMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		metric string
		match  map[string]string
		sum    float64
		n      int
	}{
		{"every sample", "proxy_rewritten_responses_total", nil, 10, 3},
		{"by label", "proxy_rewritten_responses_total", map[string]string{"broker": "source-kafka:9092"}, 9, 2},
		{"no such label value", "proxy_errors_total", map[string]string{"reason": "unmapped_broker"}, 0, 0},
		{"gauge", "proxy_listeners", map[string]string{"kind": "dynamic"}, 2, 1},
		{"missing family", "proxy_nothing_total", nil, 0, 0},
		{"histograms have no single value", "proxy_request_latency_seconds", nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Sum(tt.metric, tt.match); got != tt.sum {
				t.Errorf("Sum = %v, want %v", got, tt.sum)
			}
			if got := m.Samples(tt.metric, tt.match); len(got) != tt.n {
				t.Errorf("Samples = %v, want %d", got, tt.n)
			}
		})
	}
	if _, err := ParseMetrics(strings.NewReader("not { metrics")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestSecrets(t *testing.T) {
	s, err := newSecrets(t.TempDir(), "tb", secretsRequest{
		servers:    []string{"source-kafka", "source-proxy"},
		serverSANs: map[string][]string{"source-proxy": {"source-toxi"}},
		user:       "bridge", password: "s3cret",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(s.CertFiles("source-proxy"), s.CertFiles(CertHost)...) {
		if _, err := os.Stat(f.HostPath); err != nil {
			t.Errorf("%s: %v", f.ContainerPath, err)
		}
		if !strings.HasPrefix(f.ContainerPath, SecretsDir+"/") {
			t.Errorf("container path %s", f.ContainerPath)
		}
	}
	// The users file is what the proxy parses, and holds the password.
	uf, err := os.Open(filepath.Join(s.Dir, UsersFile))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = uf.Close() }()
	users, err := auth.ParseUsers(uf, UsersFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.VerifyPlain(t.Context(), "bridge", "s3cret"); err != nil {
		t.Errorf("the bridge user does not log in: %v", err)
	}
	if _, err := users.VerifyPlain(t.Context(), "bridge", "wrong"); err == nil {
		t.Error("a wrong password logs in")
	}
	args := strings.Join(s.ClientArgs("source-"), " ")
	for _, want := range []string{"--source-tls --source-tls-ca-file /secrets/ca.crt", "--source-sasl-mechanism SCRAM-SHA-512", "--source-sasl-user bridge", "--source-sasl-password s3cret"} {
		if !strings.Contains(args, want) {
			t.Errorf("ClientArgs %q lack %q", args, want)
		}
	}
	if args := strings.Join(s.BrokerClientArgs("", CertProducer), " "); !strings.Contains(args, "--tls-cert-file /secrets/producer.crt --tls-key-file /secrets/producer.key") {
		t.Errorf("BrokerClientArgs %q", args)
	}
}

// TestHostDialerTLS proves the host dialer verifies the name the client asked
// for (what the proxy's certificate carries), not the 127.0.0.1 it dials.
func TestHostDialerTLS(t *testing.T) {
	s, err := newSecrets(t.TempDir(), "tb", secretsRequest{
		servers:    []string{"source-proxy"},
		serverSANs: map[string][]string{"source-proxy": {"source-toxi"}},
		user:       "bridge", password: "pw",
	})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.Dir, "source-proxy.crt"), filepath.Join(s.Dir, "source-proxy.key"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	tc, err := s.HostTLS("")
	if err != nil {
		t.Fatal(err)
	}
	dial := hostDialer(func(addr string) (string, error) {
		if strings.HasPrefix(addr, "unknown") {
			return "", ErrUnknownAddr
		}
		return ln.Addr().String(), nil
	}, tc)
	tests := []struct {
		addr string
		ok   bool
	}{
		{"source-toxi:19092", true},
		{"source-proxy:19092", true},
		{"target-toxi:29092", false}, // not in the certificate
		{"unknown:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, err := dial(ctx, "tcp", tt.addr)
			if (err == nil) != tt.ok {
				t.Fatalf("dial %s: %v, want ok %v", tt.addr, err, tt.ok)
			}
			if c != nil {
				_ = c.Close()
			}
		})
	}
}

func TestStartTopologyValidates(t *testing.T) {
	tb := &Testbed{}
	if err := tb.StartTopology(t.Context(), Topology{}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("empty topology: %v, want ErrBadSpec", err)
	}
	if err := tb.StartTopology(t.Context(), Topology{Source: &ClusterSpec{Nodes: 99}}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("99 nodes: %v, want ErrBadSpec", err)
	}
}

func TestTopologyBroker(t *testing.T) {
	s := &Secrets{Dir: "/tmp/x", P12Password: "pw"}
	tests := []struct {
		name       string
		kafkaImage string
		zone       Zone
		wantArgs   []string
		wantFiles  []string
		wantKafka  bool
	}{
		{
			name: "test broker", zone: Source,
			wantArgs:  []string{"--cluster-id source", "--tls-cert-file /secrets/source-kafka.crt", "--tls-client-ca-file /secrets/ca.crt", "--tls-client-auth require", "--seed-topics t:2"},
			wantFiles: []string{"/secrets/ca.crt", "/secrets/source-kafka.crt", "/secrets/source-kafka.key"},
		},
		{
			name: "real Kafka", kafkaImage: "apache/kafka:4.0.0", zone: Target,
			wantFiles: []string{"/etc/kafka/secrets/target-kafka.p12", "/etc/kafka/secrets/truststore.p12"},
			wantKafka: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &Testbed{kafkaImage: tt.kafkaImage}
			bs := tb.topologyBroker(tt.zone, ClusterSpec{Nodes: 1, SeedTopics: []string{"t:2"}, Persistent: true}, s, &tls.Config{})
			if bs.Name != string(tt.zone)+"-kafka" || !bs.Persistent || bs.HostTLS == nil {
				t.Errorf("spec %+v", bs)
			}
			cmd := strings.Join(bs.cmd(), " ")
			for _, a := range tt.wantArgs {
				if !strings.Contains(cmd, a) {
					t.Errorf("cmd %q lacks %q", cmd, a)
				}
			}
			var files []string
			for _, f := range bs.Files {
				files = append(files, f.ContainerPath)
			}
			if !reflect.DeepEqual(files, tt.wantFiles) {
				t.Errorf("files %v, want %v", files, tt.wantFiles)
			}
			if (bs.KafkaTLS != nil) != tt.wantKafka {
				t.Errorf("KafkaTLS %+v", bs.KafkaTLS)
			}
			if tt.wantKafka {
				if _, err := KafkaEnv(bs, bs.KafkaTLS); err != nil {
					t.Errorf("KafkaEnv: %v", err)
				}
			}
		})
	}
}
