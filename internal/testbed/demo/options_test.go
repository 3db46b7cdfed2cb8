package demo

import (
	"bytes"
	"testing"
	"time"
)

func TestOptions(t *testing.T) {
	var out bytes.Buffer
	tests := []struct {
		name  string
		opts  []Opt
		check func(c config) bool
	}{
		{"defaults: about a minute of events", nil, func(c config) bool {
			return c.events == 3000 && c.rate == 50 && !c.keep && c.faultAfter+c.faultFor < time.Duration(float64(c.events)/c.rate*float64(time.Second))
		}},
		{"events and rate", []Opt{Events(10), Rate(5)}, func(c config) bool { return c.events == 10 && c.rate == 5 }},
		{"faults", []Opt{Latency(time.Second), FaultAfter(2 * time.Second), FaultFor(3 * time.Second)}, func(c config) bool {
			return c.latency == time.Second && c.faultAfter == 2*time.Second && c.faultFor == 3*time.Second
		}},
		{"keep, version, output", []Opt{Keep(true), KafkaVersion("2.8"), Output(&out)}, func(c config) bool {
			return c.keep && c.version == "2.8" && c.out == &out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults()
			for _, o := range tt.opts {
				o(&c)
			}
			if !tt.check(c) {
				t.Errorf("config after options: %+v", c)
			}
		})
	}
}
