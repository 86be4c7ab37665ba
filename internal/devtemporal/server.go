// Package devtemporal runs a Temporal server inside the Ejazz process for the
// embedded profile and for tests: all four Temporal services on loopback,
// persisted in one SQLite file (or in memory), the namespace and Ejazz's
// search attributes registered on start, and optionally the Temporal Web UI.
//
// It is the same server code as a Temporal cluster (go.temporal.io/server);
// only persistence (SQLite) and topology (one process) differ.
package devtemporal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// Options configures the embedded server.
type Options struct {
	// DBPath is the SQLite file holding all Temporal state; empty keeps it in memory.
	DBPath string
	// FrontendAddr is the gRPC frontend's host:port; port 0 picks a free port.
	FrontendAddr string
	// UIAddr is the Web UI's host:port; empty disables the UI.
	UIAddr string
	// Namespace is created on start when missing.
	Namespace string
	// SearchAttributes are custom search attributes registered with the namespace.
	SearchAttributes map[string]enumspb.IndexedValueType
	// LogFile receives the server's own logs (level LogLevel, default warn); empty discards them.
	LogFile  string
	LogLevel string
}

// Server is a running embedded Temporal server.
type Server struct {
	srv      temporal.Server
	ui       *uiserver.Server
	uiDone   chan struct{}
	frontend string
	uiAddr   string
	ns       string
	stopping *atomic.Bool
}

// Start builds and starts the server; it returns once the frontend accepts
// connections.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	host, port, err := splitAddr(o.FrontendAddr)
	if err != nil {
		return nil, fmt.Errorf("temporal frontend address %q: %w", o.FrontendAddr, err)
	}
	if port == 0 {
		if port, err = freePort(host); err != nil {
			return nil, err
		}
	} else if err := checkFree(host, port); err != nil {
		return nil, fmt.Errorf("temporal frontend: %w", err)
	}
	if o.UIAddr != "" {
		uh, up, err := splitAddr(o.UIAddr)
		if err != nil {
			return nil, fmt.Errorf("temporal UI address %q: %w", o.UIAddr, err)
		}
		if err := checkFree(uh, up); err != nil {
			return nil, fmt.Errorf("temporal UI: %w", err)
		}
	}

	sqlCfg := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}}
	if o.DBPath == "" {
		sqlCfg.DatabaseName = "ejazz-" + strconv.Itoa(rand.IntN(1<<30))
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
	} else {
		if err := os.MkdirAll(filepath.Dir(o.DBPath), 0o755); err != nil {
			return nil, fmt.Errorf("temporal data dir: %w", err)
		}
		sqlCfg.DatabaseName = o.DBPath
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		sqlCfg.ConnectAttributes["_journal_mode"] = "wal"
		sqlCfg.ConnectAttributes["_synchronous"] = "2" // FULL: a workflow accepted is on disk
	}
	if o.DBPath == "" || !exists(o.DBPath) {
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("temporal schema: %w", err)
		}
	}

	cfg, err := serverConfig(host, port, sqlCfg)
	if err != nil {
		return nil, err
	}
	nsCfg, err := sqliteschema.NewNamespaceConfig(cfg.ClusterMetadata.CurrentClusterName, o.Namespace, false, o.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("temporal namespace %q: %w", o.Namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, nsCfg); err != nil {
		return nil, fmt.Errorf("temporal namespace %q: %w", o.Namespace, err)
	}

	var logger tlog.Logger = tlog.NewNoopLogger()
	if o.LogFile != "" {
		if o.LogLevel == "" {
			o.LogLevel = "warn"
		}
		if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o755); err != nil {
			return nil, fmt.Errorf("temporal log dir: %w", err)
		}
		logger = tlog.NewZapLogger(tlog.BuildZapLogger(tlog.Config{Level: o.LogLevel, OutputFile: o.LogFile, Format: "json"}))
	}
	stopping := new(atomic.Bool)
	logger = nonFatal{logger, stopping}
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal claim mapper: %w", err)
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("temporal server start: %w", err)
	}
	s := &Server{srv: srv, frontend: net.JoinHostPort(host, strconv.Itoa(port)), ns: o.Namespace, stopping: stopping}
	if err := s.waitReady(ctx); err != nil {
		stopping.Store(true)
		_ = srv.Stop()
		return nil, err
	}
	if o.UIAddr != "" {
		if err := s.startUI(ctx, o.UIAddr); err != nil {
			stopping.Store(true)
			_ = srv.Stop()
			return nil, err
		}
	}
	return s, nil
}

// FrontendAddr is the gRPC address clients dial.
func (s *Server) FrontendAddr() string { return s.frontend }

// Namespace is the namespace created on start.
func (s *Server) Namespace() string { return s.ns }

// UIURL is the Web UI's base URL, or "" when the UI is off.
func (s *Server) UIURL() string {
	if s.uiAddr == "" {
		return ""
	}
	return "http://" + s.uiAddr
}

// Stop stops the UI and the server and closes the database.
func (s *Server) Stop() error {
	s.stopping.Store(true)
	if s.ui != nil {
		s.ui.Stop()
		<-s.uiDone
	}
	return s.srv.Stop()
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		c, err := client.Dial(client.Options{HostPort: s.frontend, Namespace: s.ns, Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal frontend %s not ready: %w", s.frontend, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) startUI(ctx context.Context, addr string) error {
	host, port, _ := splitAddr(addr)
	s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		TemporalGRPCAddress: s.frontend,
		Host:                host,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    s.ns,
		HideLogs:            true,
		DisableNewsFetch:    true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
	}))
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		_ = s.ui.Start()
	}()
	s.uiAddr = addr
	// Wait until the UI answers so callers can print a working URL.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal UI on %s not ready: %w", addr, err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func serverConfig(host string, frontendPort int, sqlCfg *config.SQL) (*config.Config, error) {
	service := func(grpcPort int) (config.Service, error) {
		if grpcPort == 0 {
			p, err := freePort(host)
			if err != nil {
				return config.Service{}, err
			}
			grpcPort = p
		}
		mp, err := freePort(host)
		if err != nil {
			return config.Service{}, err
		}
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: mp, BindOnIP: host}}, nil
	}
	services := map[string]config.Service{}
	for name, p := range map[string]int{"frontend": frontendPort, "history": 0, "matching": 0, "worker": 0} {
		svc, err := service(p)
		if err != nil {
			return nil, err
		}
		services[name] = svc
	}
	frontend := net.JoinHostPort(host, strconv.Itoa(frontendPort))
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}, nil
}

func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ErrAddrInUse reports a listen address another process holds.
var ErrAddrInUse = errors.New("address already in use")

func checkFree(host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", addr, ErrAddrInUse)
	}
	return l.Close()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// nonFatal keeps a stopped embedded server from killing its host process:
// the server shares its process with the whole platform (and with tests),
// and its shutdown can race a membership (ringpop) bootstrap that gives up
// seconds later and reports it as fatal. Once Stop has begun, a fatal error
// is logged and ends only the goroutine that raised it (runtime.Goexit, so
// the code after the call, which assumes the process is gone, never runs).
// Before that, fatal keeps its meaning: log and exit.
type nonFatal struct {
	tlog.Logger
	stopping *atomic.Bool
}

func (l nonFatal) Fatal(msg string, tags ...tag.Tag) {
	if !l.stopping.Load() {
		l.Logger.Fatal(msg, tags...)
		os.Exit(1) // a no-op logger's Fatal returns
	}
	l.Logger.Error(msg, tags...)
	runtime.Goexit()
}

// With keeps the wrapper on derived loggers (the server derives many).
func (l nonFatal) With(tags ...tag.Tag) tlog.Logger {
	return nonFatal{tlog.With(l.Logger, tags...), l.stopping}
}

// Skip keeps the wrapper when the server asks for caller skipping.
func (l nonFatal) Skip(extra int) tlog.Logger {
	if s, ok := l.Logger.(tlog.SkipLogger); ok {
		return nonFatal{s.Skip(extra), l.stopping}
	}
	return l
}

// quietLogger silences the SDK client's logs while probing readiness.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
