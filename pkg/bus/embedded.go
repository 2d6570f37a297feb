package bus

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures the in-process NATS server of `docgraph up`.
type EmbeddedConfig struct {
	StoreDir string // JetStream file storage
	Host     string // listen address; "" with Port < 0 means no listener
	Port     int    // 0 = random, -1 = do not listen (in-process clients only)
	// SyncInterval is how often JetStream fsyncs; 0 keeps the server
	// default (2 minutes). SyncAlways fsyncs every write.
	SyncInterval time.Duration
	SyncAlways   bool
	ServerName   string
	// MaxStore caps the disk JetStream uses, in bytes; 0 leaves the
	// server's default (most of the free disk). At the cap, publishes fail
	// with "insufficient resources" (IsStorageFull).
	MaxStore int64
}

// StartEmbedded starts nats-server in this process with JetStream and waits
// until it accepts connections. Shut it down with Shutdown and
// WaitForShutdown.
func StartEmbedded(cfg EmbeddedConfig, logger *slog.Logger) (*server.Server, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: store dir required")
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	abs, err := filepath.Abs(cfg.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	name := cfg.ServerName
	if name == "" {
		name = "docgraph-embedded"
	}
	opts := &server.Options{
		ServerName:   name,
		Host:         cfg.Host,
		Port:         cfg.Port,
		JetStream:    true,
		StoreDir:     abs,
		NoSigs:       true,
		NoLog:        true,
		MaxPayload:   8 << 20,
		SyncInterval: cfg.SyncInterval,
		SyncAlways:   cfg.SyncAlways,
	}
	if cfg.MaxStore > 0 {
		opts.JetStreamMaxStore = cfg.MaxStore
	}
	switch {
	case cfg.Port < 0:
		opts.DontListen = true
		opts.Port = server.RANDOM_PORT
	case cfg.Port == 0: // nats-server reads 0 as its default port, 4222
		opts.Port = server.RANDOM_PORT
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	fatal := &fatalLogger{failed: make(chan struct{}), log: logger}
	ns.SetLogger(fatal, false, false)
	go ns.Start()
	// The server reports a listener it cannot open (the address is taken)
	// or a JetStream it cannot start only to its logger, and is never ready.
	for deadline := time.Now().Add(30 * time.Second); !ns.ReadyForConnections(50 * time.Millisecond); {
		select {
		case <-fatal.failed:
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, fmt.Errorf("embedded nats: %w", fatal.err)
		default:
		}
		if time.Now().After(deadline) {
			ns.Shutdown()
			return nil, fmt.Errorf("embedded nats: not ready after 30s (store %s, %s:%d)", abs, opts.Host, cfg.Port)
		}
	}
	logger.Info("embedded nats started",
		slog.String("store_dir", abs),
		slog.String("listen", listenAddr(ns, opts)))
	return ns, nil
}

func listenAddr(ns *server.Server, opts *server.Options) string {
	if opts.DontListen {
		return "in-process only"
	}
	return ns.ClientURL()
}

// fatalLogger keeps the first fatal error of the embedded server, logs its
// errors (a failing JetStream store, say) and drops its other lines.
type fatalLogger struct {
	once   sync.Once
	failed chan struct{} // closed once err is set
	err    error
	log    *slog.Logger
}

func (l *fatalLogger) Fatalf(format string, v ...any) {
	l.log.Error("embedded nats: " + fmt.Sprintf(format, v...))
	l.once.Do(func() {
		// The error the server quotes ("listen tcp …: address already in
		// use") says it best.
		for _, a := range v {
			if err, ok := a.(error); ok {
				l.err = err
			}
		}
		if l.err == nil {
			l.err = fmt.Errorf(format, v...)
		}
		close(l.failed)
	})
}

func (*fatalLogger) Noticef(string, ...any) {}
func (*fatalLogger) Warnf(string, ...any)   {}
func (l *fatalLogger) Errorf(format string, v ...any) {
	l.log.Error("embedded nats: " + fmt.Sprintf(format, v...))
}
func (*fatalLogger) Debugf(string, ...any) {}
func (*fatalLogger) Tracef(string, ...any) {}
