package proxy

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// refuse answers a request whose API key is forbidden without forwarding it: with an
// authorization error where the API has a way to say so, else by closing the
// connection. Earlier responses are delivered first, to keep response order.
func (c *conn) refuse(h reqHeader, n int) error {
	frame, err := c.cr.readWhole(n)
	if err != nil {
		return err
	}
	defer c.p.pools.put(frame)
	c.p.m.forbidden.WithLabelValues(c.rt.upstream, strconv.Itoa(int(h.key))).Inc()
	c.cm.request(h.key, h.version, n)
	log := c.p.log.With("client", c.client.RemoteAddr().String(), "broker", c.rt.upstream, "api", keyName(h.key), "version", h.version)

	resp, err := forbiddenResponse(frame[4:], h)
	if err != nil {
		log.Warn("forbidden API key: closing the connection (the API has no error to answer with)", "err", err)
		return fmt.Errorf("%s: %w", keyName(h.key), ErrForbiddenAPIKey)
	}
	if !c.waitOutstanding(time.Now().Add(c.p.cfg.writeTimeout)) {
		return fmt.Errorf("connection closed while refusing %s: %w", keyName(h.key), ErrForbiddenAPIKey)
	}
	if err := c.writeLocal(h, resp); err != nil {
		return err
	}
	log.Info("refused forbidden API key")
	return nil
}

// forbiddenResponse builds the refusal of a forbidden request.
func forbiddenResponse(frame []byte, h reqHeader) (kmsg.Response, error) {
	body, err := requestBody(frame, h)
	if err != nil {
		return nil, err
	}
	req := kmsg.RequestForKey(h.key)
	if req == nil {
		return nil, fmt.Errorf("no request type for key %d", h.key)
	}
	req.SetVersion(h.version)
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(h.version)
	if fillErrors(req, resp, kerr.TopicAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Code) {
		return resp, nil
	}
	return nil, fmt.Errorf("%s has no error field to refuse with", keyName(h.key))
}

// fillErrors sets error codes on resp for each item of req: topicDenied on topics,
// clusterDenied on other resources. The admin APIs an operator typically blocks
// answer per topic, group or resource; any other API with a top-level error code
// answers clusterDenied there. It reports false when the API has nowhere to put an
// error.
func fillErrors(req kmsg.Request, resp kmsg.Response, topicDenied, clusterDenied int16) bool {
	switch rq := req.(type) {
	case *kmsg.DeleteTopicsRequest:
		rs := resp.(*kmsg.DeleteTopicsResponse)
		for _, t := range rq.TopicNames {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = kmsg.StringPtr(t), topicDenied
			rs.Topics = append(rs.Topics, rt)
		}
		for _, t := range rq.Topics {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, topicDenied
			rs.Topics = append(rs.Topics, rt)
		}
		return true
	case *kmsg.CreateTopicsRequest:
		rs := resp.(*kmsg.CreateTopicsResponse)
		for _, t := range rq.Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, topicDenied
			rs.Topics = append(rs.Topics, rt)
		}
		return true
	case *kmsg.DeleteRecordsRequest:
		rs := resp.(*kmsg.DeleteRecordsResponse)
		for _, t := range rq.Topics {
			rt := kmsg.NewDeleteRecordsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewDeleteRecordsResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.LowWatermark = p.Partition, topicDenied, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			rs.Topics = append(rs.Topics, rt)
		}
		return true
	case *kmsg.CreatePartitionsRequest:
		rs := resp.(*kmsg.CreatePartitionsResponse)
		for _, t := range rq.Topics {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, topicDenied
			rs.Topics = append(rs.Topics, rt)
		}
		return true
	case *kmsg.DeleteGroupsRequest:
		rs := resp.(*kmsg.DeleteGroupsResponse)
		for _, g := range rq.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, groupCode(clusterDenied)
			rs.Groups = append(rs.Groups, rg)
		}
		return true
	case *kmsg.AlterConfigsRequest:
		rs := resp.(*kmsg.AlterConfigsResponse)
		for _, r := range rq.Resources {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = r.ResourceType, r.ResourceName, clusterDenied
			rs.Resources = append(rs.Resources, rr)
		}
		return true
	case *kmsg.IncrementalAlterConfigsRequest:
		rs := resp.(*kmsg.IncrementalAlterConfigsResponse)
		for _, r := range rq.Resources {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = r.ResourceType, r.ResourceName, clusterDenied
			rs.Resources = append(rs.Resources, rr)
		}
		return true
	case *kmsg.CreateACLsRequest:
		rs := resp.(*kmsg.CreateACLsResponse)
		for range rq.Creations {
			rr := kmsg.NewCreateACLsResponseResult()
			rr.ErrorCode = clusterDenied
			rs.Results = append(rs.Results, rr)
		}
		return true
	case *kmsg.DeleteACLsRequest:
		rs := resp.(*kmsg.DeleteACLsResponse)
		for range rq.Filters {
			rr := kmsg.NewDeleteACLsResponseResult()
			rr.ErrorCode = clusterDenied
			rs.Results = append(rs.Results, rr)
		}
		return true
	}
	// Generic: a top-level ErrorCode field, if this version puts it on the wire
	// (Metadata has one only from v13): check by a round trip, because an answer
	// that silently drops the error would look like success to the client.
	v := reflect.ValueOf(resp).Elem()
	f := v.FieldByName("ErrorCode")
	if !f.IsValid() || f.Kind() != reflect.Int16 || !f.CanSet() {
		return false
	}
	f.SetInt(int64(clusterDenied))
	back := resp.RequestKind().ResponseKind()
	back.SetVersion(resp.GetVersion())
	if err := back.ReadFrom(resp.AppendTo(nil)); err != nil {
		return false
	}
	return reflect.ValueOf(back).Elem().FieldByName("ErrorCode").Int() == int64(clusterDenied)
}

// groupCode maps an authorization refusal to its group form; other codes stay.
func groupCode(code int16) int16 {
	if code == kerr.ClusterAuthorizationFailed.Code {
		return kerr.GroupAuthorizationFailed.Code
	}
	return code
}
