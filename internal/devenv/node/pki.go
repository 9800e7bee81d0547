//go:build linux

package node

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// users are the node's identities and their groups: kubelet's (the Node authorizer and
// NodeRestriction know it by name and group), the components' (bound by default RBAC),
// and the admin.
var users = map[string]string{
	"admin":                          "system:masters",
	"system:node:" + NodeName:        "system:nodes",
	"system:kube-scheduler":          "",
	"system:kube-controller-manager": "",
	"system:kube-proxy":              "",
}

// makeTokens gives every user a random token.
func (n *Node) makeTokens() error {
	n.tokens = map[string]string{}
	for user := range users {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		n.tokens[user] = hex.EncodeToString(b)
	}
	return nil
}

// tokenFile is kube-apiserver's --token-auth-file.
func (n *Node) tokenFile() string {
	var b strings.Builder
	for user, groups := range users {
		fmt.Fprintf(&b, "%s,%s,%s", n.tokens[user], user, user)
		if groups != "" {
			fmt.Fprintf(&b, ",%q", groups)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// writeServiceAccountKey writes the key pair that signs ServiceAccount tokens.
func (n *Node) writeServiceAccountKey() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	return errors.Join(
		os.WriteFile(n.path("sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600),
		os.WriteFile(n.path("sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644),
	)
}

// servingCert is the certificate kube-apiserver makes itself in its --cert-dir (for the
// node's address, 10.96.0.1 and kubernetes.default.svc), with the CA that signed it: the
// CA of every client, and of Pods through kube-root-ca.crt.
func (n *Node) servingCert() string {
	return filepath.Join(n.path("apiserver-certs"), "apiserver.crt")
}
