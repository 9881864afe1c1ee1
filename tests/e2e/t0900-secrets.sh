#!/usr/bin/env bash
# t0900-secrets - no secret reaches hoist's output: hoist runs with -vv (an
# HTTP trace) against a Basic registry (TLS + htpasswd) and a Bearer one (the
# token-server fixture) - login, manifest, digest, config, ls, catalog, pull,
# blob metadata - and neither stdout nor stderr may hold the password,
# base64(user:password), a JWT ("eyJ...": every token the token server
# issues is one) or a token hoist printed when asked to (auth token).  Also:
# the credentials file is 0600, and the cache hoist creates is not writable
# by others, whatever the umask.
. "$(dirname "$0")/../lib.sh"
test_init

CFG=$DOCKER_CONFIG/config.json
PASS='pw-S3cr3t-9f1b'
TPASS='tk-Hunt3r2-77ac'
secrets=()	# fixed strings that must never appear

# no_secrets DESC: checks the last command's $OUT and $ERR.
no_secrets() {
	local f s hit=
	for f in "$OUT" "$ERR"; do
		for s in "${secrets[@]}"; do
			grep -qF -- "$s" "$f" && hit+=" '${s:0:12}...' in $(basename "$f")"
		done
		grep -qE 'eyJ[A-Za-z0-9_-]{8,}' "$f" && hit+=" a JWT in $(basename "$f")"
	done
	[[ -z $hit ]] && test_ok "$1: no secret in the output" ||
		test_not_ok "$1: no secret in the output" "found:$hit"
}
# traced DESC: -vv really traced the requests (else the check above proves little).
traced() {
	grep -qE '^> (GET|HEAD|POST|PUT) ' "$ERR" && test_ok "$1: -vv traced HTTP" ||
		test_not_ok "$1: -vv traced HTTP" "stderr: $(head -c 300 "$ERR")"
}
# run DESC CMD...: expect_success, then both checks.
run() {
	local d=$1
	shift
	expect_success "$d" "$@"
	traced "$d"
	no_secrets "$d"
}

# --- Basic: TLS + htpasswd ---------------------------------------------------
registry_start --tls --htpasswd "alice:$PASS" || { test_not_ok "TLS registry starts"; test_done; }
R=$REGISTRY
seed_image library/hello:1 || test_not_ok "seed_image"
mkdir -p certs.d/"$R"
cp "$REGISTRY_CA" certs.d/"$R"/ca.crt
export HOIST_CERTS_DIR=$TEST_DIR/certs.d
secrets=("$PASS" "$(printf 'alice:%s' "$PASS" | base64)")

expect_code 1 "basic: a wrong password is refused" \
	sh -c 'echo wrong-pw | "$HOIST" -vv auth login "$1" -u alice --password-stdin' sh "$R"
no_secrets "basic: refused login"
expect_success "basic: login -vv" \
	sh -c 'printf "%s\n" "$2" | "$HOIST" -vv auth login "$1" -u alice --password-stdin' sh "$R" "$PASS"
traced "basic: login"
no_secrets "basic: login"
grep -qiE '^> Authorization: ' "$ERR" && ! grep -qiE '^> Authorization: Basic [A-Za-z0-9+/]{8}' "$ERR" &&
	test_ok "basic: the Authorization header is traced redacted" ||
	test_not_ok "basic: the Authorization header is traced redacted" "$(grep -i authorization "$ERR" | head -3)"
[[ $(stat -c %a "$CFG") == 600 ]] && test_ok "basic: config.json has mode 0600" ||
	test_not_ok "basic: config.json has mode 0600" "$(stat -c %a "$CFG")"

# the check itself: auth get prints the password, on purpose, and it is seen
expect_success "basic: auth get" hoist auth get "$R"
grep -qF "$PASS" "$OUT" && test_ok "basic: the secret check would see a leak" ||
	test_not_ok "basic: the secret check would see a leak" "$(cat "$OUT")"
run "basic: manifest -vv" hoist -vv manifest "$R/library/hello:1"
run "basic: digest -vv" hoist -vv digest "$R/library/hello:1"
run "basic: config -vv" hoist -vv config "$R/library/hello:1"
run "basic: ls -vv" hoist -vv ls "$R/library/hello"
run "basic: catalog -vv" hoist -vv catalog "$R"
run "basic: pull -vv" hoist -vv pull "$R/library/hello:1" "$TEST_DIR/basic-layout"
expect_code 1 "basic: a missing tag fails" hoist -vv manifest "$R/library/hello:nope"
no_secrets "basic: a failed request"
# -p on the command line (the warning path) and a credential-helper answer
expect_success "basic: login -p -vv" hoist -vv auth login "$R" -u alice -p "$PASS"
no_secrets "basic: login -p"
expect_success "basic: logout -vv" hoist -vv auth logout "$R"
no_secrets "basic: logout"
registry_stop

# --- Bearer: token-server fixture -------------------------------------------
token_server_start --user "bob:$TPASS" || { test_not_ok "token server starts"; test_done; }
registry_start_token || { test_not_ok "token registry starts"; test_done; }
R=$REGISTRY
seed_image library/hello:1 || test_not_ok "seed_image (token)"
secrets=("$TPASS" "$(printf 'bob:%s' "$TPASS" | base64)")

expect_success "bearer: login -vv" \
	sh -c 'printf "%s\n" "$2" | "$HOIST" -vv auth login "$1" -u bob --password-stdin' sh "$R" "$TPASS"
traced "bearer: login"
no_secrets "bearer: login"
# a token hoist hands out on purpose (auth token): it must show up nowhere else
expect_success "bearer: auth token" hoist auth token "$R/library/hello"
tok=$(cat "$OUT")
[[ $tok == eyJ*.*.* ]] && test_ok "bearer: the token is a JWT" || test_not_ok "bearer: the token is a JWT" "$tok"
secrets+=("$tok" "${tok##*.}")

run "bearer: manifest -vv" hoist -vv manifest "$R/library/hello:1"
grep -qE '^< WWW-Authenticate: Bearer' "$ERR" || grep -q 'token' "$ERR" &&
	test_ok "bearer: the trace shows the token dance" ||
	test_not_ok "bearer: the trace shows the token dance" "$(head -c 400 "$ERR")"
run "bearer: digest -vv" hoist -vv digest "$R/library/hello:1"
run "bearer: config -vv" hoist -vv config "$R/library/hello:1"
run "bearer: ls -vv" hoist -vv ls "$R/library/hello"
run "bearer: catalog -vv" hoist -vv catalog "$R"
run "bearer: pull -vv" hoist -vv pull "$R/library/hello:1" "$TEST_DIR/bearer-layout"
run "bearer: tag -vv (a push token)" hoist -vv tag "$R/library/hello:1" two
expect_code 1 "bearer: a missing tag fails" hoist -vv manifest "$R/library/hello:nope"
no_secrets "bearer: a failed request"
grep -qF "$TPASS" "$TOKEN_LOG" && test_not_ok "bearer: the token server log has no password" ||
	test_ok "bearer: the token server log has no password"
expect_success "bearer: logout" hoist -vv auth logout "$R"
no_secrets "bearer: logout"
expect_code 1 "bearer: a wrong password is refused" hoist -vv auth login "$R" -u bob -p wrong-pw
no_secrets "bearer: refused login"

# --- file modes --------------------------------------------------------------
# hoist's own files, under a careless umask: still not writable by others
umask 000
cache=$TEST_DIR/umask0-cache
expect_success "umask 000: login" \
	sh -c 'printf "%s\n" "$2" | "$HOIST" auth login "$1" -u bob --password-stdin' sh "$R" "$TPASS"
[[ $(stat -c %a "$CFG") == 600 ]] && test_ok "umask 000: config.json has mode 0600" ||
	test_not_ok "umask 000: config.json has mode 0600" "$(stat -c %a "$CFG")"
expect_success "umask 000: pull into a new cache" hoist --cache "$cache" pull "$R/library/hello:1"
ww=$(find "$cache" -perm -o+w ! -type l | head -5)
[[ -d $cache && -z $ww ]] && test_ok "umask 000: nothing in the cache is world-writable" ||
	test_not_ok "umask 000: nothing in the cache is world-writable" "$ww"
umask 022
expect_success "the default cache is created" hoist pull "$R/library/hello:1"
cache=$XDG_CACHE_HOME/hoist
ww=$(find "$cache" -perm -o+w ! -type l | head -5)
[[ -d $cache && -z $ww ]] && test_ok "nothing in the default cache is world-writable" ||
	test_not_ok "nothing in the default cache is world-writable" "$ww"
mode=$(stat -c %a "$cache")
[[ $mode == 700 ]] && test_ok "the default cache directory is 0700" ||
	test_not_ok "the default cache directory is 0700" "mode $mode"

test_done
