// Package bus declares docgraph's NATS JetStream topology in one place
// (streams, consumers, buckets), creates it idempotently, connects to NATS
// and runs the embedded server for the zero-setup mode.
package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	StreamFiles       = "DOCGRAPH_FILES"
	StreamChunks      = "DOCGRAPH_CHUNKS"
	StreamRecords     = "DOCGRAPH_RECORDS"
	StreamExtractions = "DOCGRAPH_EXTRACTIONS"
	StreamDLQ         = "DOCGRAPH_DLQ"
)

// Bucket names.
const (
	// BucketFiles is the object store holding the watched files' bytes.
	BucketFiles = "docgraph_files"
	// BucketWatcher is the key-value bucket holding what the watcher has
	// published per path (so a restart does not publish unchanged files).
	BucketWatcher = "docgraph_watcher"
	// BucketGazetteer holds the known entities (people, projects, teams).
	BucketGazetteer = "docgraph_gazetteer"
	// BucketGazetteerPaths holds, per structured source path, the latest
	// version the gazetteer has seen, so that an older version arriving
	// late changes nothing, and the gazetteer revision the extractors have
	// re-extracted the chunk stream for (so a restart finishes a refresh
	// that an earlier process did not).
	BucketGazetteerPaths = "docgraph_gazetteer_paths"
	// BucketExports is the object store through which the graph writer
	// hands graph exports to operator commands; objects expire.
	BucketExports = "docgraph_exports"
	// BucketGraphWriters holds one entry per running graph writer, which
	// the process keeps fresh and which expires GraphWriterTTL after it
	// stops (see ClaimGraphWriter).
	BucketGraphWriters = "docgraph_graph_writers"
	// BucketRefresher holds the lease of the extractor replica that
	// re-extracts chunks after the gazetteer changed, which expires
	// RefresherTTL after its holder stops renewing it (see RefresherLease).
	BucketRefresher = "docgraph_refresher"
)

// Stage names; each is also the durable consumer's name.
const (
	StageWatcher     = "watcher"
	StageParser      = "parser"
	StageExtractor   = "extractor"
	StageGraphWriter = "graph-writer"
)

// DLQSubject is the dead-letter subject of a stage.
func DLQSubject(stage string) string { return "docgraph.dlq." + stage }

// StreamSpec declares one stream.
type StreamSpec struct {
	Name     string
	Subjects []string
	Desc     string
	// Data marks the high-volume streams (tens of messages per file),
	// whose deduplication window is TopologyConfig.DataDuplicates.
	Data bool
}

// Streams is the topology: every stream docgraph uses.
var Streams = []StreamSpec{
	{Name: StreamFiles, Subjects: []string{"docgraph.files.>"}, Desc: "Files discovered and deleted by the watcher."},
	{Name: StreamChunks, Subjects: []string{"docgraph.chunks.>"}, Desc: "Text chunks and document deletions from the parser.", Data: true},
	{Name: StreamRecords, Subjects: []string{"docgraph.records.>"}, Desc: "Mapped spreadsheet rows from the parser.", Data: true},
	{Name: StreamExtractions, Subjects: []string{"docgraph.extractions.>"}, Desc: "Entities and relationships found by the extractor.", Data: true},
	{Name: StreamDLQ, Subjects: []string{"docgraph.dlq.>"}, Desc: "Dead letters: messages a stage gave up on, with the reason."},
}

// ConsumerSpec declares one stage's durable consumer.
type ConsumerSpec struct {
	Stage   string
	Stream  string
	Durable string
}

// Consumers lists the durable consumer(s) of each stage. The graph writer
// reads two streams, so it has two consumers of the same name.
var Consumers = []ConsumerSpec{
	{StageParser, StreamFiles, StageParser},
	{StageExtractor, StreamChunks, StageExtractor},
	{StageGraphWriter, StreamExtractions, StageGraphWriter},
	{StageGraphWriter, StreamRecords, StageGraphWriter},
}

// ConsumersOf returns the consumer specs of one stage.
func ConsumersOf(stage string) []ConsumerSpec {
	var out []ConsumerSpec
	for _, c := range Consumers {
		if c.Stage == stage {
			out = append(out, c)
		}
	}
	return out
}

// StreamOf returns the stream that stores subject, or "".
func StreamOf(subject string) string {
	for _, s := range Streams {
		for _, pat := range s.Subjects {
			if subjectMatches(pat, subject) {
				return s.Name
			}
		}
	}
	return ""
}

func subjectMatches(pattern, subject string) bool {
	// Only the "prefix.>" form is used in Streams.
	if len(pattern) >= 2 && pattern[len(pattern)-1] == '>' {
		prefix := pattern[:len(pattern)-1]
		return len(subject) > len(prefix) && subject[:len(prefix)] == prefix
	}
	return pattern == subject
}

// TopologyConfig sizes the streams and buckets.
type TopologyConfig struct {
	Replicas int           // 1 embedded, 3 in a cluster
	MaxAge   time.Duration // history kept for replay; 0 = forever
	// ChunksMaxAge is the chunk stream's history (0 = forever), which the
	// extractor re-reads when known names change: a document whose chunks
	// have left the stream is not re-extracted.
	ChunksMaxAge time.Duration
	Duplicates   time.Duration // dedupe window for Nats-Msg-Id
	// DataDuplicates is the dedupe window of the Data streams (Duplicates
	// if 0). The server keeps every message ID of the window in memory,
	// about 100 bytes each: at 10,000 messages/s a 10-minute window holds
	// some 600 MB, a 2-minute one 120 MB. It must outlast the redelivery
	// of an input whose outputs were published but not acknowledged
	// (AckWait), so that its outputs are dropped as duplicates; a later
	// duplicate is written again, idempotently.
	DataDuplicates time.Duration
	MaxBytes       int64 // per stream; 0 = unlimited
	// KeepExisting creates only the streams and buckets that are missing
	// and leaves the configuration of existing ones alone: an operator
	// command (status, dlq, ...) with its own defaults must not rewrite
	// the running system's (a shorter max_age would delete history, fewer
	// replicas would shrink a cluster's streams).
	KeepExisting bool
}

// DefaultTopology is what the embedded mode uses.
func DefaultTopology() TopologyConfig {
	return TopologyConfig{Replicas: 1, MaxAge: 7 * 24 * time.Hour, Duplicates: 10 * time.Minute, DataDuplicates: 2 * time.Minute}
}

// Provision creates or updates every stream and bucket; it is safe to run
// at every start and from every process.
func Provision(ctx context.Context, js jetstream.JetStream, cfg TopologyConfig) error {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	for _, s := range Streams {
		sc := jetstream.StreamConfig{
			Name:        s.Name,
			Description: s.Desc,
			Subjects:    s.Subjects,
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			MaxAge:      cfg.MaxAge,
			Duplicates:  cfg.Duplicates,
			Discard:     jetstream.DiscardOld,
		}
		if s.Data && cfg.DataDuplicates > 0 {
			sc.Duplicates = cfg.DataDuplicates
		}
		if cfg.MaxBytes > 0 {
			sc.MaxBytes = cfg.MaxBytes
		}
		switch s.Name {
		case StreamDLQ:
			sc.MaxAge = 0 // dead letters stay until purged
		case StreamChunks:
			sc.MaxAge = cfg.ChunksMaxAge
		}
		have, err := current(ctx, js, s.Name)
		if err != nil {
			return fmt.Errorf("provision stream %s: %w", s.Name, err)
		}
		if have != nil && (cfg.KeepExisting || sameStream(*have, sc)) {
			continue
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", s.Name, err)
		}
	}
	for _, obs := range []jetstream.ObjectStoreConfig{
		{Bucket: BucketFiles, Description: "Bytes of the watched files.", Compression: true},
		{Bucket: BucketExports, Description: "Graph exports for operator commands.", TTL: time.Hour},
	} {
		obs.Storage = jetstream.FileStorage
		obs.Replicas = cfg.Replicas
		have, err := current(ctx, js, objectStream(obs.Bucket))
		if err != nil {
			return fmt.Errorf("provision object store %s: %w", obs.Bucket, err)
		}
		if have != nil && (cfg.KeepExisting || sameBucket(*have, obs.Description, obs.TTL, obs.Replicas, 0, obs.Compression)) {
			continue
		}
		if _, err := js.CreateOrUpdateObjectStore(ctx, obs); err != nil {
			return fmt.Errorf("provision object store %s: %w", obs.Bucket, err)
		}
	}
	for _, kv := range []jetstream.KeyValueConfig{
		{Bucket: BucketWatcher, Description: "Last published state per watched path.", History: 1},
		{Bucket: BucketGazetteer, Description: "Known entities for the extractor.", History: 1},
		{Bucket: BucketGazetteerPaths, Description: "Latest version per gazetteer source path; gazetteer revision refreshed through.", History: 1},
		{Bucket: BucketGraphWriters, Description: "Running graph writers and their stores.", History: 1, TTL: GraphWriterTTL},
		{Bucket: BucketRefresher, Description: "The extractor that re-extracts chunks after the gazetteer changed.", History: 1, TTL: RefresherTTL},
	} {
		kv.Storage = jetstream.FileStorage
		kv.Replicas = cfg.Replicas
		have, err := current(ctx, js, "KV_"+kv.Bucket)
		if err != nil {
			return fmt.Errorf("provision key-value bucket %s: %w", kv.Bucket, err)
		}
		if have != nil && (cfg.KeepExisting || sameBucket(*have, kv.Description, kv.TTL, kv.Replicas, int64(kv.History), false)) {
			continue
		}
		if _, err := js.CreateOrUpdateKeyValue(ctx, kv); err != nil {
			return fmt.Errorf("provision key-value bucket %s: %w", kv.Bucket, err)
		}
	}
	return nil
}

// current returns the configuration of a stream, or nil if there is no
// such stream. An object store or a key-value bucket is a stream too.
//
// Provision updates only what differs from the configuration it wants:
// every process runs it at start, and a stream update at the moment
// another process creates a consumer on that stream is a data race in
// nats-server (v2.15: its file store's UpdateConfig replaces the
// configuration that ConsumerStore reads).
func current(ctx context.Context, js jetstream.JetStream, stream string) (*jetstream.StreamConfig, error) {
	st, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &st.CachedInfo().Config, nil
}

// sameStream reports whether a stream has the settings Provision sets.
func sameStream(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Retention == want.Retention && have.Storage == want.Storage && have.Replicas == want.Replicas &&
		have.MaxAge == want.MaxAge && have.Duplicates == want.Duplicates && have.Discard == want.Discard &&
		max(have.MaxBytes, 0) == max(want.MaxBytes, 0)
}

// sameBucket reports whether the stream of a key-value bucket or an object
// store has the settings Provision sets: history (key-value, else 0) is
// the messages kept per subject.
func sameBucket(have jetstream.StreamConfig, desc string, ttl time.Duration, replicas int, history int64, compressed bool) bool {
	return have.Description == desc && have.MaxAge == ttl && have.Replicas == replicas &&
		have.Storage == jetstream.FileStorage && (history == 0 || have.MaxMsgsPerSubject == history) &&
		(have.Compression == jetstream.S2Compression) == compressed
}

// IsTransient reports whether a JetStream or connection error may go away
// on its own (timeouts, no responders during a leader election, a closed
// or reconnecting connection).
func IsTransient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrServerShutdown) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		isNATSTransient(err)
}

// JetStream's error codes for a store without room: the server's or the
// account's storage limit is reached.
const (
	errCodeInsufficientResources jetstream.ErrorCode = 10023
	errCodeStorageExceeded       jetstream.ErrorCode = 10047
)

// IsStorageFull reports whether err says that JetStream has no room to
// store a message: its disk or storage limit is full. Not the message's
// fault, and not for it to be dead-lettered (the dead letter would not be
// stored either): room has to be made.
func IsStorageFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == errCodeInsufficientResources || apiErr.ErrorCode == errCodeStorageExceeded)
}

// ResumeOrphans makes the work that a previous run left in flight
// deliverable at once. Only for the embedded server, whose process owns
// every consumer: its restart forgets naks (the redelivery queue lives in
// memory), so without this the messages would wait for their AckWait.
// Consumers with messages in flight are reset to their ack floor; what is
// redelivered is processed idempotently. It returns how many messages were
// in flight.
func ResumeOrphans(ctx context.Context, js jetstream.JetStream) (int, error) {
	total := 0
	for _, c := range Consumers {
		cons, err := js.Consumer(ctx, c.Stream, c.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return total, fmt.Errorf("consumer %s on %s: %w", c.Durable, c.Stream, err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return total, fmt.Errorf("consumer %s on %s: %w", c.Durable, c.Stream, err)
		}
		if info.NumAckPending == 0 {
			continue
		}
		total += info.NumAckPending
		if _, err := js.ResetConsumer(ctx, c.Stream, c.Durable); err != nil {
			return total, fmt.Errorf("reset consumer %s on %s: %w", c.Durable, c.Stream, err)
		}
	}
	return total, nil
}
