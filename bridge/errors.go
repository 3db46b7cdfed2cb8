package bridge

import "errors"

// Sentinel errors. Wrapped errors carry the details; match with errors.Is.
var (
	// ErrConfig marks an invalid option given to New.
	ErrConfig = errors.New("bridge: invalid configuration")

	// ErrFenced means another owner initialised a task's transactional id:
	// this instance must stop the task and never retry it in a way that
	// could duplicate records.
	ErrFenced = errors.New("bridge: task fenced by a newer owner")

	// ErrTopicCollision means two source topics map to one target topic
	// under the rename template; copying either would mix them.
	ErrTopicCollision = errors.New("bridge: two source topics map to one target topic")

	// ErrBadTopicName means the rename template produced a name Kafka
	// rejects.
	ErrBadTopicName = errors.New("bridge: invalid target topic name")

	// ErrOffsetsMismatch means the offsets group holds a position for a
	// target partition that was written for a different source topic, a sign
	// of a changed rename template or a shared offsets group.
	ErrOffsetsMismatch = errors.New("bridge: stored offsets belong to another source topic")

	// ErrTransient is what a Validator wraps to say "not the record's
	// fault, try again later" (a schema registry outage, for example): the
	// transaction is aborted and retried instead of sending the record to
	// the dead-letter topic.
	ErrTransient = errors.New("bridge: transient validation failure")

	// ErrProduce means the target refused at least one record of a
	// transaction; the transaction is aborted, since kgo would otherwise
	// commit the records that did succeed.
	ErrProduce = errors.New("bridge: produce to target failed")
)
