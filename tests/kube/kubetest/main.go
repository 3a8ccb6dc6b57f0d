// Command kubetest starts a real etcd and kube-apiserver on loopback for the tests and
// stops them again, whatever happens to the tests.
//
//	kubetest up  [--dir DIR] [--bin DIR]          start, print "ready DIR", run until
//	                                              stdin closes or a signal arrives
//	kubetest run [--dir DIR] [--bin DIR] -- CMD   start, run CMD with MCPSYNC_KUBE_DIR=DIR,
//	                                              stop, exit with CMD's code
//
// DIR receives admin.kubeconfig (system:masters), operator.kubeconfig
// (system:serviceaccount:mcpsync-system:mcpsync, no rights but the RBAC it is given),
// kubectl (the path of the kubectl binary), audit.log (writes, metadata level), env (the
// same as shell exports) and the servers' logs. On stop the etcd data and the credentials
// are removed; `run` then removes DIR when CMD succeeded and keeps the logs (and says
// where) when it failed; `up` leaves the logs to its caller.
//
// The servers cannot outlive kubetest: they get SIGKILL when it dies (PR_SET_PDEATHSIG),
// and `up` stops them when its stdin reaches end of file, which is how a test process
// that started it (and holds the other end of the pipe) ends it, even when killed.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

const (
	readyTimeout = 90 * time.Second
	stopTimeout  = 10 * time.Second
	// The operator's identity: the ServiceAccount the Helm chart creates.
	operatorUser   = "system:serviceaccount:mcpsync-system:mcpsync"
	operatorGroups = "system:serviceaccounts,system:serviceaccounts:mcpsync-system,system:authenticated"
)

func init() {
	// PR_SET_PDEATHSIG fires when the thread that forked a child exits, not the process:
	// keep the main goroutine, which starts every child, on the main thread.
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := flags.String("dir", "", "state folder (default: a new temporary folder)")
	self, _ := os.Executable()
	bin := flags.String("bin", filepath.Dir(self), "folder holding etcd, kube-apiserver and kubectl")
	if err := flags.Parse(os.Args[2:]); err != nil {
		usage()
	}
	switch os.Args[1] {
	case "up":
		os.Exit(up(*dir, *bin))
	case "run":
		if flags.NArg() == 0 {
			usage()
		}
		os.Exit(run(*dir, *bin, flags.Args()))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kubetest up [--dir DIR] [--bin DIR] | kubetest run [--dir DIR] [--bin DIR] -- CMD [ARGS...]")
	os.Exit(64)
}

func up(dir, bin string) int {
	c, err := start(dir, bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		return 1
	}
	defer c.stop()
	fmt.Printf("ready %s\n", c.dir)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(closed)
	}()
	select {
	case <-signals:
	case <-closed:
	case err := <-c.exited:
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		return 1
	}
	return 0
}

func run(dir, bin string, command []string) int {
	c, err := start(dir, bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		return 1
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "MCPSYNC_KUBE_DIR="+c.dir)
	// Forward interrupts to the command and let it finish; the servers stop afterwards.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	code := 0
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		code = 1
	} else {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
	wait:
		for {
			select {
			case s := <-signals:
				_ = cmd.Process.Signal(s)
			case err := <-c.exited:
				fmt.Fprintln(os.Stderr, "kubetest:", err)
				_ = cmd.Process.Signal(syscall.SIGTERM)
				<-done
				code = 1
				break wait
			case err := <-done:
				code = exitCode(err)
				break wait
			}
		}
	}
	c.stop()
	if code == 0 {
		_ = os.RemoveAll(c.dir)
	} else {
		fmt.Fprintf(os.Stderr, "kubetest: the API server's logs and audit log are kept in %s\n", c.dir)
	}
	return code
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() > 0 {
		return exit.ExitCode()
	}
	return 1
}

type cluster struct {
	dir       string
	processes []*exec.Cmd // in start order; stopped in reverse
	exited    chan error  // a server that ended on its own
}

func start(dir, bin string) (*cluster, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mcpsync-kube-")
		if err != nil {
			return nil, err
		}
		dir = tmp
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: build it with tests/kube/build.sh", name, bin)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, exited: make(chan error, 2)}
	ok := false
	defer func() {
		if !ok {
			c.stop()
		}
	}()

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	server := fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	pki, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, err
	}
	adminToken, operatorToken := token(), token()
	tokens := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n%s,%s,mcpsync-operator,\"%s\"\n",
		adminToken, operatorToken, operatorUser, operatorGroups)
	if err := os.WriteFile(filepath.Join(dir, "pki", "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "audit-policy.yaml"), []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	for name, tok := range map[string]string{"admin": adminToken, "operator": operatorToken} {
		if err := writeKubeconfig(filepath.Join(dir, name+".kubeconfig"), server, pki.caPEM, name, tok); err != nil {
			return nil, err
		}
	}

	err = c.spawn(filepath.Join(bin, "etcd"), filepath.Join(dir, "etcd.log"),
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd-data"),
		"--listen-client-urls="+etcdClient,
		"--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer,
		"--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=default="+etcdPeer,
		"--unsafe-no-fsync", // test data: speed over durability
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}
	err = c.spawn(filepath.Join(bin, "kube-apiserver"), filepath.Join(dir, "kube-apiserver.log"),
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[2]),
		"--tls-cert-file="+pki.serverCert,
		"--tls-private-key-file="+pki.serverKey,
		"--client-ca-file="+pki.caCert,
		"--token-auth-file="+filepath.Join(dir, "pki", "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub,
		"--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--enable-priority-and-fairness=false",
		"--endpoint-reconciler-type=none",
		"--audit-policy-file="+filepath.Join(dir, "audit-policy.yaml"),
		"--audit-log-path="+filepath.Join(dir, "audit.log"),
		"--audit-log-mode=blocking", // every write is in the log when its answer arrives
		"--v=1",
	)
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(server, pki.caPEM, adminToken); err != nil {
		return nil, err
	}
	env := fmt.Sprintf("export MCPSYNC_KUBE_DIR=%q\nexport KUBECONFIG=%q\nexport KUBECTL=%q\n",
		dir, filepath.Join(dir, "admin.kubeconfig"), filepath.Join(bin, "kubectl"))
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte(filepath.Join(bin, "kubectl")), 0o600); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// auditPolicy records every write at metadata level (who, what, verb, answer code), so
// tests and benchmarks can count the operator's Kubernetes writes.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`

func (c *cluster) spawn(path, logPath string, args ...string) error {
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", filepath.Base(path), err)
	}
	c.processes = append(c.processes, cmd)
	name := filepath.Base(path)
	go func() {
		err := cmd.Wait()
		log.Close()
		c.exited <- fmt.Errorf("%s exited (%v); its log: %s\n%s", name, err, logPath, tail(logPath))
	}()
	return nil
}

func (c *cluster) waitReady(server, caPEM, adminToken string) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caPEM))
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case err := <-c.exited:
			return err
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %s (last answer: %s); logs in %s", readyTimeout, last, c.dir)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stop ends the servers in reverse order: SIGTERM, then SIGKILL after stopTimeout.
func (c *cluster) stop() {
	for i := len(c.processes) - 1; i >= 0; i-- {
		p := c.processes[i]
		if p.ProcessState != nil || p.Process == nil {
			continue
		}
		_ = p.Process.Signal(syscall.SIGTERM)
		deadline := time.Now().Add(stopTimeout)
		for time.Now().Before(deadline) && p.Process.Signal(syscall.Signal(0)) == nil {
			time.Sleep(50 * time.Millisecond)
		}
		_ = p.Process.Kill()
		// Reap: the goroutine in spawn waits for it and reports on c.exited (buffered).
		for j := 0; j < 100 && p.Process.Signal(syscall.Signal(0)) == nil; j++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	c.processes = nil
	// The data and the credentials are of no use once the servers are gone; the logs and
	// the audit log stay for whoever reads them after a failure.
	_ = os.RemoveAll(filepath.Join(c.dir, "etcd-data"))
	_ = os.RemoveAll(filepath.Join(c.dir, "pki"))
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func token() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type pkiFiles struct {
	caCert, caPEM, serverCert, serverKey, saKey, saPub string
}

// writePKI makes a CA, a serving certificate for 127.0.0.1 signed by it, and the
// ServiceAccount token signing key.
func writePKI(dir string) (pkiFiles, error) {
	f := pkiFiles{
		caCert:     filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		saKey:      filepath.Join(dir, "sa.key"),
		saPub:      filepath.Join(dir, "sa.pub"),
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mcpsync-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return f, err
	}
	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	serverTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, serverTemplate, ca, &serverKey.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return f, err
	}
	serverKeyDER, err := x509.MarshalECPrivateKey(serverKey)
	if err != nil {
		return f, err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return f, err
	}
	f.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	files := map[string][]byte{
		f.caCert:     []byte(f.caPEM),
		f.serverCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverDER}),
		f.serverKey:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: serverKeyDER}),
		f.saKey:      pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		f.saPub:      pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

func writeKubeconfig(path, server, caPEM, user, tok string) error {
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: mcpsync-test
    cluster:
      server: %s
      certificate-authority-data: %s
users:
  - name: %s
    user:
      token: %s
contexts:
  - name: %s
    context: {cluster: mcpsync-test, user: %s, namespace: default}
current-context: %s
`, server, base64.StdEncoding.EncodeToString([]byte(caPEM)), user, tok, user, user, user)
	return os.WriteFile(path, []byte(config), 0o600)
}

// tail returns the last lines of a log, for an error message.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
