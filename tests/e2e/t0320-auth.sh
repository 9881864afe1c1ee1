#!/usr/bin/env bash
# t0320-auth - hoist auth login/logout/get/token against real registries:
# TLS + htpasswd (the CA through HOIST_CERTS_DIR), Bearer tokens from the
# token-server fixture, and hoist as a docker-credential helper for skopeo
# and for itself.
. "$(dirname "$0")/../lib.sh"
test_init

CFG=$DOCKER_CONFIG/config.json
stderr_has() { grep -qE -- "$2" "$ERR" && test_ok "$1" || test_not_ok "$1" "stderr: $(head -c 400 "$ERR")"; }

# --- TLS + htpasswd --------------------------------------------------------
registry_start --tls --htpasswd alice:s3cret || { test_not_ok "TLS registry starts"; test_done; }
R=$REGISTRY
seed_image library/hello:1 || test_not_ok "seed_image"
seed=$SEED_DIGEST
mkdir -p certs.d/"$R"
cp "$REGISTRY_CA" certs.d/"$R"/ca.crt
export HOIST_CERTS_DIR=$TEST_DIR/certs.d

expect_code 1 "ls without credentials is refused" hoist ls "$R/library/hello"
stderr_has "it says to log in" "authentication required|log in"
expect_code 1 "login with a wrong password fails" \
	sh -c 'echo wrong | "$HOIST" auth login "$1" -u alice --password-stdin' sh "$R"
stderr_has "it says the credentials were refused" "^error: cannot log in to '$R'"
[[ ! -e $CFG ]] || ! grep -q "$R" "$CFG" && test_ok "nothing was stored" ||
	test_not_ok "nothing was stored" "$(cat "$CFG")"
grep -q s3cret "$ERR" && test_not_ok "the password is not in the message" || test_ok "the password is not in the message"
expect_code 1 "login with an unknown user fails" hoist auth login "$R" -u bob -p s3cret

expect_code 2 "login without -u" hoist auth login "$R" -p x
expect_code 2 "login without a password" hoist auth login "$R" -u alice
expect_code 2 "login with -p and --password-stdin" hoist auth login "$R" -u alice -p x --password-stdin
expect_code 2 "login to a repository" hoist auth login "$R/library/hello" -u alice -p x
expect_code 2 "login --offline" hoist --offline auth login "$R" -u alice -p x

expect_success "login with --password-stdin" \
	sh -c 'printf "s3cret\n" | "$HOIST" auth login "$1" -u alice --password-stdin' sh "$R"
[[ $(cat "$ERR") == "Login Succeeded" ]] && test_ok "it says Login Succeeded on stderr" ||
	test_not_ok "it says Login Succeeded on stderr" "$(cat "$ERR")"
[[ ! -s $OUT ]] && test_ok "nothing on stdout" || test_not_ok "nothing on stdout"
[[ $(stat -c %a "$CFG") == 600 ]] && test_ok "config.json has mode 0600" ||
	test_not_ok "config.json has mode 0600" "$(stat -c %a "$CFG")"
expect_output "config.json holds base64(user:password)" "$(printf alice:s3cret | base64)" \
	jq -r --arg r "$R" '.auths[$r].auth' "$CFG"

expect_success "ls with the stored credentials" hoist ls "$R/library/hello"
skopeo list-tags --cert-dir "$REGISTRY_CERTS" --creds alice:s3cret "docker://$R/library/hello" |
	jq -r '.Tags[]' >want-tags
compare "ls lists skopeo's tags" want-tags "$OUT"
expect_success "manifest with the stored credentials" hoist manifest "$R/library/hello:1"
skopeo inspect --raw --cert-dir "$REGISTRY_CERTS" --creds alice:s3cret "docker://$R/library/hello:1" >want-manifest
compare "manifest bytes are skopeo's" want-manifest "$OUT"
expect_success "config with the stored credentials" hoist config "$R/library/hello:1"
expect_output "digest" "$seed" hoist digest "$R/library/hello:1"
expect_success "tag with the stored credentials" hoist tag "$R/library/hello:1" two
expect_output "skopeo sees the tag (with the file hoist wrote)" "$seed" \
	skopeo inspect --cert-dir "$REGISTRY_CERTS" --authfile "$CFG" --format '{{.Digest}}' \
	"docker://$R/library/hello:two"
expect_success "catalog with the stored credentials" hoist catalog "$R"
grep -qx library/hello "$OUT" && test_ok "catalog lists library/hello" || test_not_ok "catalog lists library/hello"
expect_code 1 "auth token on a Basic registry is refused" hoist auth token "$R/library/hello"
stderr_has "it says the registry does not use tokens" "does not use bearer tokens"

expect_output "auth get REGISTRY" "{\"ServerURL\":\"$R\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}" \
	hoist auth get "$R"
expect_output "auth get with the server URL on stdin" \
	"{\"ServerURL\":\"https://$R\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}" \
	sh -c 'echo "https://$1" | "$HOIST" auth get' sh "$R"
expect_code 1 "auth get of an unknown registry" hoist auth get other.example:5000
[[ $(cat "$OUT") == "credentials not found in native keychain" ]] &&
	test_ok "it answers as credential helpers do" || test_not_ok "it answers as credential helpers do" "$(cat "$OUT")"

expect_success "a second login keeps other entries" \
	sh -c 'jq ".auths[\"keep.example\"] = {\"auth\": \"eDp5\"} | .other = 1" "$1" >"$1.new" &&
		mv "$1.new" "$1" && echo s3cret | "$HOIST" auth login "$2" -u alice --password-stdin' sh "$CFG" "$R"
expect_output "the other entries survive" "eDp5 1" jq -r '"\(.auths["keep.example"].auth) \(.other)"' "$CFG"

expect_success "logout" hoist auth logout "$R"
stderr_has "it says so" "^Removing login credentials for $R$"
expect_output "the entry is gone" null jq --arg r "$R" '.auths[$r]' "$CFG"
expect_output "other entries stay" eDp5 jq -r '.auths["keep.example"].auth' "$CFG"
expect_code 1 "ls after logout is refused" hoist ls "$R/library/hello"
expect_success "logout again" hoist auth logout "$R"
stderr_has "it says not logged in" "^Not logged in to $R$"
expect_code 2 "logout without a registry" hoist auth logout

expect_success "login with -p warns" hoist auth login "$R" -u alice -p s3cret
stderr_has "the warning names --password-stdin" "^warning: .*--password-stdin"

# --- hoist as a credential helper ------------------------------------------
mkdir -p bin helper
cat >bin/docker-credential-hoist <<EOF
#!/bin/sh
# hoist's own store for this helper: a file only the helper reads
export REGISTRY_AUTH_FILE=$TEST_DIR/helper/auth.json
[ "\$1" = get ] && exec "$HOIST" auth get
exit 1
EOF
chmod +x bin/docker-credential-hoist
export PATH=$TEST_DIR/bin:$PATH
jq -n --arg r "$R" --arg a "$(printf alice:s3cret | base64)" '{auths: {($r): {auth: $a}}}' \
	>helper/auth.json
jq -n --arg r "$R" '{credHelpers: {($r): "hoist"}}' >"$CFG"
# skopeo and hoist find the credentials only through the helper
saved_auth_file=$REGISTRY_AUTH_FILE
export REGISTRY_AUTH_FILE=$TEST_DIR/none.json
expect_output "docker-credential-hoist get" \
	"{\"ServerURL\":\"$R\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}" \
	sh -c 'echo "$1" | docker-credential-hoist get' sh "$R"
expect_output "skopeo reads the credentials through hoist" "$seed" \
	skopeo inspect --cert-dir "$REGISTRY_CERTS" \
	--format '{{.Digest}}' "docker://$R/library/hello:1"
skopeo list-tags --cert-dir "$REGISTRY_CERTS" "docker://$R/library/hello" | jq -r '.Tags[]' >want-tags2
expect_success "hoist reads them through itself" hoist ls "$R/library/hello"
compare "the tags skopeo lists through the helper" want-tags2 "$OUT"
rm helper/auth.json
expect_code 1 "no credentials anywhere: hoist does not ask itself forever" \
	timeout 20 "$HOIST" auth get "$R"
[[ $(cat "$OUT") == "credentials not found in native keychain" ]] &&
	test_ok "it answers not found" || test_not_ok "it answers not found" "$(cat "$OUT")"
rm -f "$CFG"
export REGISTRY_AUTH_FILE=$saved_auth_file
registry_stop

# --- Bearer tokens ---------------------------------------------------------
token_server_start --user bob:b0b --reader rita:r1ta || { test_not_ok "token server starts"; test_done; }
registry_start_token || { test_not_ok "token registry starts"; test_done; }
R=$REGISTRY
seed_image library/hello:1 || test_not_ok "seed_image (token)"
expect_code 1 "token login with a wrong password fails" hoist auth login "$R" -u bob -p nope
[[ ! -e $CFG ]] && test_ok "nothing was stored" || test_not_ok "nothing was stored" "$(cat "$CFG")"
expect_success "token login" sh -c 'echo b0b | "$HOIST" auth login "$1" -u bob --password-stdin' sh "$R"
expect_output "manifest through a bearer token" "$SEED_DIGEST" hoist digest "$R/library/hello:1"
expect_success "ls through a bearer token" hoist ls "$R/library/hello"
expect_success "auth token" hoist auth token "$R/library/hello"
tok=$(cat "$OUT")
[[ $tok =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] && test_ok "the token is a JWT" ||
	test_not_ok "the token is a JWT" "$tok"
jwt_access() { # TOKEN -> the actions granted on the repository, comma-separated
	local p=${1#*.}
	p=${p%%.*}
	p=$(printf '%s' "$p" | tr '_-' '/+')
	while ((${#p} % 4)); do p+='='; done
	printf '%s' "$p" | base64 -d | jq -r '.access[0].actions | sort | join(",")'
}
expect_output "it grants pull" pull jwt_access "$tok"
expect_output "curl with the token lists the tags" 200 \
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$REGISTRY_URL/v2/library/hello/tags/list"
expect_output "curl without it is refused" 401 \
	curl -s -o /dev/null -w '%{http_code}' "$REGISTRY_URL/v2/library/hello/tags/list"
expect_success "auth token --push" hoist auth token --push "$R/library/hello"
expect_output "it grants pull and push" pull,push jwt_access "$(cat "$OUT")"
expect_success "auth token -H" hoist auth token -H "$R/library/hello"
[[ $(cat "$OUT") == "Authorization: Bearer "*.*.* ]] && test_ok "-H prints a header line" ||
	test_not_ok "-H prints a header line" "$(cat "$OUT")"
expect_output "curl with the header" 200 \
	curl -s -o /dev/null -w '%{http_code}' -H "$(cat "$OUT")" "$REGISTRY_URL/v2/library/hello/tags/list"
expect_code 2 "auth token of a reference with a tag" hoist auth token "$R/library/hello:1"
expect_code 2 "auth token without a repository" hoist auth token
expect_success "logout" hoist auth logout "$R"
expect_code 1 "a reader's login works, but it cannot push" \
	sh -c 'echo r1ta | "$HOIST" auth login "$1" -u rita --password-stdin &&
		"$HOIST" tag "$1/library/hello:1" pushed' sh "$R"

test_done
