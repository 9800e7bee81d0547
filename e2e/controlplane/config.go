package controlplane

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Identities known to the API server through its token file.
const (
	// AdminUser is in group system:masters, which bypasses authorization.
	AdminUser = "admin"
	// CoreDNSUser is the user name the API server gives ServiceAccount
	// kube-system/coredns, so RBAC bindings to that ServiceAccount apply to it.
	CoreDNSUser = "system:serviceaccount:kube-system:coredns"
)

// coreDNSGroups are the groups a real token of ServiceAccount kube-system/coredns carries.
var coreDNSGroups = []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}

// auditPolicy records every write to, or read of, Events (both API groups) at
// level Metadata: who did what, and the response code, but no bodies.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: ["events"]
  - group: "events.k8s.io"
    resources: ["events"]
- level: None
`

// freePorts returns n distinct loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // hold all until the end so the ports are distinct
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// randomToken returns 32 random hex characters.
func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writeServiceAccountKeys writes an RSA key pair in PEM: the private key
// signs ServiceAccount tokens, the public key verifies them.
func writeServiceAccountKeys(privPath, pubPath string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(privPath, priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

// writeTokenFile writes the static token file (CSV: token,user,uid,"groups").
func writeTokenFile(path, adminToken, coreDNSToken string) error {
	lines := []string{
		fmt.Sprintf("%s,%s,%s,%q", adminToken, AdminUser, "admin-uid", "system:masters"),
		fmt.Sprintf("%s,%s,%s,%q", coreDNSToken, CoreDNSUser, "coredns-uid", strings.Join(coreDNSGroups, ",")),
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// writeKubeconfig writes a kubeconfig for host that authenticates with token
// and trusts caFile (the API server's self-signed serving certificate).
func writeKubeconfig(path, host, caFile, name, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: host, CertificateAuthority: caFile}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}
