package consumercheck_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/airlock-kafka/airlock/chaos"
	"github.com/airlock-kafka/airlock/chaos/consumercheck"
	"github.com/airlock-kafka/airlock/consumer"
)

// fullReport sets every field of a consumer.Report to a non-zero value, by
// reflection, so a field added to the consumer later shows up here as a
// difference instead of being dropped silently.
func fullReport(t *testing.T) consumer.Report {
	t.Helper()
	var r consumer.Report
	n := 0
	fill(t, reflect.ValueOf(&r).Elem(), &n)
	return r
}

func fill(t *testing.T, v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), n)
		}
		v.Set(s)
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n))
	case reflect.Bool:
		v.SetBool(true)
	default:
		t.Fatalf("fill: unhandled kind %s", v.Kind())
	}
}

func TestFromReportKeepsEveryField(t *testing.T) {
	r := fullReport(t)
	got := consumercheck.FromReport(r)

	// The consumer's JSON, decoded strictly into the mirror, must equal the
	// conversion: same fields, same names, nothing unknown.
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(want))
	dec.DisallowUnknownFields()
	var viaJSON chaos.CheckResult
	if err := dec.Decode(&viaJSON); err != nil {
		t.Fatalf("consumer.Report JSON does not fit chaos.CheckResult: %v", err)
	}
	if !reflect.DeepEqual(*got, viaJSON) {
		t.Errorf("FromReport differs from the JSON route:\n got %+v\nwant %+v", *got, viaJSON)
	}
	back, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, want) {
		t.Errorf("round trip changed the JSON:\n got %s\nwant %s", back, want)
	}
}

func TestFromReportClasses(t *testing.T) {
	r := consumer.Report{Classes: []consumer.ClassResult{
		{Class: consumer.ClassLost, Count: 3, Examples: []consumer.Example{{Event: "p-1/7", Detail: "acked, never seen"}}},
		{Class: consumer.ClassDuplicate, Count: 0},
	}}
	got := consumercheck.FromReport(r)
	if c := got.Class(chaos.ClassLost); c.Count != 3 || len(c.Examples) != 1 || c.Examples[0].Event != "p-1/7" {
		t.Errorf("lost = %+v", c)
	}
	// The class names chaos matches on are the consumer's.
	for _, pair := range [][2]string{
		{chaos.ClassLost, string(consumer.ClassLost)},
		{chaos.ClassDuplicate, string(consumer.ClassDuplicate)},
		{chaos.ClassAbortedRead, string(consumer.ClassAbortedRead)},
		{chaos.ClassUnexpected, string(consumer.ClassUnexpected)},
		{chaos.ClassOrderPartition, string(consumer.ClassOrderPartition)},
		{chaos.ClassOrderKey, string(consumer.ClassOrderKey)},
		{chaos.ClassUndecodable, string(consumer.ClassUndecodable)},
		{chaos.ClassInconsistent, string(consumer.ClassInconsistent)},
		{chaos.ClassProvenance, string(consumer.ClassProvenance)},
	} {
		if pair[0] != pair[1] {
			t.Errorf("class %q in chaos is %q in consumer", pair[0], pair[1])
		}
	}
	if n := len(consumer.AllClasses()); n != 9 {
		t.Errorf("consumer has %d classes, chaos knows 9: map the new one to an invariant", n)
	}
}
