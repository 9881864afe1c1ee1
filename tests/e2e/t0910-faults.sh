#!/usr/bin/env bash
# t0910-faults: hostile and broken registries (issue 8).  One table: each row
# starts tests/fixtures/fault-server in front of a real docker-registry with
# one misbehaviour, runs one hoist command against it and checks
#   - the exit status (1, or 0 where retrying is right) and no crash,
#   - a clear error (a key phrase on stderr),
#   - bounded wall time (timeout) and memory (peak RSS under 64 MiB); both
#     are printed at the end,
#   - the layout and the cache, which already hold one good image, are exactly
#     as valid as before: index.json byte-identical (or, after a success, only
#     gained entries), `hoist validate --layout` and `hoist cache verify` clean,
#     every file under blobs/ named by its digest, no new top-level files,
#     nothing written outside (no */etc/passwd anywhere, /etc/passwd intact).
. "$(dirname "$0")/../lib.sh"
test_init

# short back-offs and a short low-speed window keep the table fast
export HOIST_RETRY_BASE_MS=10 HOIST_LOW_SPEED_TIME=1
TMO=60
[[ ${HOIST_VALGRIND-} == 1 ]] && TMO=240

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
RDIR=$REGISTRY_DIR
seed_image good/img:1 || test_not_ok "seed good image"
seed_image --content "faulty but fine" bad/img:1 || test_not_ok "seed bad image"

W=$TEST_DIR/w
mkdir -p "$W"
expect_success "the good image is pulled into layout and cache" \
	"$HOIST" --cache "$W/cache" pull "$R/good/img:1" "$W/lay"

# hx ARGS...: hoist under timeout (and valgrind with HOIST_VALGRIND=1)
hx() {
	if [[ ${HOIST_VALGRIND-} == 1 ]]; then
		timeout "$TMO" valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite "$HOIST" "$@"
	else
		/usr/bin/time -f %M -o "$TEST_DIR/rss" timeout "$TMO" "$HOIST" "$@"
	fi
}
# memory stays bounded whatever the server sends (not measured under ASan,
# whose shadow memory dominates)
RSS_MAX_KB=65536
ldd "$HOIST" 2>/dev/null | grep -q libasan && RSS_MAX_KB=0

# --- test data -----------------------------------------------------------------
D=$TEST_DIR/data
mkdir -p "$D"
python3 - "$D" <<'EOF'
import sys
d = sys.argv[1]
with open(d + "/big.json", "w") as f:          # 50 MB of valid JSON
    f.write('{"schemaVersion":2,"name":"x","tags":["' + "a" * (50 << 20) + '"]}')
with open(d + "/huge-tags.json", "w") as f:    # 36 MB, many small entries
    f.write('{"name":"bad/img","repositories":["r"],"tags":[' + '"t",' * 9000000 + '"t"]}')
open(d + "/nested.json", "w").write("[" * 100000)
open(d + "/nested-obj.json", "w").write('{"a":' * 100000)
open(d + "/malformed.json", "w").write('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":')
open(d + "/garbage.txt", "w").write("<html>\x00\x1b[31mnot json\n")
open(d + "/notoken.json", "w").write('{"expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}')
open(d + "/hugetoken.json", "w").write('{"token":"' + "A" * (2 << 20) + '"}')
open(d + "/nested-err.json", "w").write('{"errors":' + "[" * 100000)
EOF
MT=application/vnd.oci.image.manifest.v1+json
curl -sf -H "Accept: $MT" "$REGISTRY_URL/v2/bad/img/manifests/1" >"$D/bad.json" ||
	test_not_ok "fetch the bad image's manifest"
curl -sf -H "Accept: $MT" "$REGISTRY_URL/v2/good/img/manifests/1" >"$D/good.json" ||
	test_not_ok "fetch the good image's manifest"
# hostile descriptors, edited as text (jq would turn 2^63 into a float)
L0=$(jq -r '.layers[0].digest' "$D/bad.json")
LS=$(jq -r '.layers[0].size' "$D/bad.json")
CD=$(jq -r '.config.digest' "$D/bad.json")
sed "s|\"$L0\"|\"sha256:../../etc/passwd\"|" "$D/bad.json" >"$D/trav-layer.json"
sed "s|\"$CD\"|\"sha256:../../../../../../etc/passwd\"|" "$D/bad.json" >"$D/trav-config.json"
sed "s|\"size\":$LS,\"digest\":\"$L0\"|\"size\":-1,\"digest\":\"$L0\"|; s|\"digest\":\"$L0\",\"size\":$LS|\"digest\":\"$L0\",\"size\":-1|" \
	"$D/bad.json" >"$D/size-neg.json"
sed "s|\"size\":-1|\"size\":9223372036854775808|" "$D/size-neg.json" >"$D/size-2p63.json"
sed "s|\"size\":-1|\"size\":9223372036854775807|" "$D/size-neg.json" >"$D/size-max.json"
printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../etc/passwd","size":100,"platform":{"architecture":"amd64","os":"linux"}}]}' \
	>"$D/trav-index.json"
for f in trav-layer trav-config size-neg; do
	cmp -s "$D/bad.json" "$D/$f.json" && test_not_ok "test data: $f differs from the manifest"
done

# --- fixtures shared by several rows ---------------------------------------------
# a Bearer registry whose token realm is a fault-server in front of the token
# server: garbage tokens for some repositories
token_server_start --anonymous-pull --max-seconds 3600 || test_not_ok "token server starts"
fault_server_start --name tok --max-seconds 3600 --upstream "$TOKEN_SERVER" \
	--rule 'scope=repository(%3A|:)nojson' "file:200:application/json:$D/garbage.txt" \
	--rule 'scope=repository(%3A|:)notoken' "file:200:application/json:$D/notoken.json" \
	--rule 'scope=repository(%3A|:)hugetoken' "file:200:application/json:$D/hugetoken.json" \
	--rule 'scope=repository(%3A|:)nestedtoken' "file:200:application/json:$D/nested.json" \
	--rule 'scope=repository(%3A|:)endlesstoken' "endless:application/json" \
	--rule 'scope=repository(%3A|:)tok500' "file:500:application/json:$D/garbage.txt" ||
	test_not_ok "token fault-server starts"
registry_start --name tokreg --token "http://$FAULT_tok/token" "$TOKEN_ISSUER" "$TOKEN_SERVICE" \
	"$TOKEN_CERT" || test_not_ok "token registry starts"
TR=$REGISTRY_tokreg

# a Basic-auth registry behind a fault-server that redirects blob GETs to a
# credential-less blob server on another host (127.0.0.2)
registry_start --name auth --htpasswd fu:fp || test_not_ok "auth registry starts"
seed_image --name auth --content "behind auth" priv/img:1 || test_not_ok "seed auth image"
if alt_loopback_ok; then
	fault_server_start --name blobs2 --max-seconds 3600 --addr "$ALT_LOOPBACK" --blob-dir "$REGISTRY_DIR_auth/data" ||
		test_not_ok "blob fault-server starts"
	fault_server_start --name authf --max-seconds 3600 --upstream "$REGISTRY_auth" \
		--redirect-blobs-to "http://$FAULT_blobs2" || test_not_ok "redirecting fault-server starts"
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$FAULT_authf" "$(printf fu:fp | base64)" \
		>"$DOCKER_CONFIG/config.json"
fi

# --- the state every row must leave as it found it ----------------------------------
lsall() { (cd "$W" && ls -A . lay cache lay/blobs cache/blobs); }
entries() { jq -r '.manifests[] | "\(.annotations["org.opencontainers.image.ref.name"] // "-") \(.digest)"' "$1" | sort; }
snapshot() {
	cp "$W/lay/index.json" "$TEST_DIR/snap.lay.json"
	cp "$W/cache/index.json" "$TEST_DIR/snap.cache.json"
	lsall >"$TEST_DIR/snap.ls"
}
snapshot
cp -a "$W" "$TEST_DIR/w0"
sha256sum /etc/passwd >"$TEST_DIR/snap.passwd"

# state_check RC: what changed in the layout and cache since the snapshot
state_check() {
	local rc=$1 why=() f bad
	if ((rc == 0)); then
		for f in lay cache; do
			comm -23 <(entries "$TEST_DIR/snap.$f.json") <(entries "$W/$f/index.json") |
				grep -q . && why+=("$f/index.json lost entries")
		done
	else
		cmp -s "$TEST_DIR/snap.lay.json" "$W/lay/index.json" || why+=("lay/index.json changed")
		cmp -s "$TEST_DIR/snap.cache.json" "$W/cache/index.json" || why+=("cache/index.json changed")
	fi
	lsall | cmp -s - "$TEST_DIR/snap.ls" || why+=("top-level files changed: $(lsall | diff "$TEST_DIR/snap.ls" - | tr '\n' ' ')")
	# every file under blobs/ is blobs/sha256/<hex> and hashes to <hex>
	bad=$(cd "$W" && find lay/blobs cache/blobs -type f -print0 | xargs -0 -r sha256sum |
		awk '{ n = $2; sub(/^(lay|cache)\/blobs\//, "", n);
		       if (n !~ /^sha256\/[0-9a-f]+$/ || length(n) != 71 || substr(n, 8) != $1) print $2 }')
	[[ -z $bad ]] || why+=("blobs not named by their digest: $bad")
	[[ -z $(find "$TEST_DIR" -path '*etc/passwd*' -print -quit) ]] || why+=("an etc/passwd appeared")
	sha256sum /etc/passwd | cmp -s - "$TEST_DIR/snap.passwd" || why+=("/etc/passwd changed")
	"$HOIST" validate --layout "$W/lay" >/dev/null 2>"$TEST_DIR/v.err" ||
		why+=("validate --layout: $(head -n 3 "$TEST_DIR/v.err" | tr '\n' ' ')")
	"$HOIST" --cache "$W/cache" cache verify >/dev/null 2>"$TEST_DIR/v.err" ||
		why+=("cache verify: $(head -n 3 "$TEST_DIR/v.err" | tr '\n' ' ')")
	((${#why[@]} == 0)) && return 0
	printf '%s\n' "${why[@]}"
	return 1
}

# One fault-server in front of the registry serves every row: fault_set
# replaces its fault options (PUT /-/fault) and clears its log.
fault_server_start --name f --max-seconds 3600 --upstream "$R" || test_not_ok "fault-server starts"
fault_set() {
	local a json='' sep=''
	for a in "$@"; do
		a=${a//\\/\\\\}
		json+=$sep\"${a//\"/\\\"}\"
		sep=,
	done
	: >"$FAULT_LOG_f"
	curl -sSf -X PUT --data-binary "[$json]" "$FAULT_URL_f/-/fault"
}

# the checks catch what they are meant to catch
head -c 10 /dev/zero >"$W/lay/blobs/sha256/$(printf 'ab%.0s' {1..32})"
mkdir -p "$W/lay/etc" && : >"$W/lay/etc/passwd"
if bad=$(state_check 1); then
	test_not_ok "state_check sees a misnamed blob and a new file"
else
	grep -q "not named by their digest" <<<"$bad" && grep -q "etc/passwd appeared" <<<"$bad" &&
		grep -q "top-level files changed" <<<"$bad" &&
		test_ok "state_check sees a misnamed blob and a new file" ||
		test_not_ok "state_check sees a misnamed blob and a new file" "$bad"
fi
rm -rf "$W" && cp -a "$TEST_DIR/w0" "$W"

# fcase NAME WANT_RC PHRASE CMD [fault-server options...]: one row.  CMD is
# eval'd once the fault-server has the row's options, so it can use $FAULT.
# PHRASE is an extended regex that stderr must match (case-insensitive);
# "-" for none.
PULL='hx --cache "$W/cache" pull "$FAULT/bad/img:1" "$W/lay"'
fcase() {
	local name=$1 want=$2 phrase=$3 cmd=$4 t0 t1 secs bad rss
	shift 4
	[[ -n ${T0910_ONLY-} && ! $name =~ $T0910_ONLY ]] && return 0
	fault_set "$@" || { test_not_ok "$name: fault-server takes $*"; return 0; }
	FAULT=$FAULT_f FAULT_LOG=$FAULT_LOG_f
	rm -f "$TEST_DIR/rss"
	t0=$(date +%s.%N)
	_t_run eval "$cmd"
	t1=$(date +%s.%N)
	secs=$(echo "$t1 - $t0" | bc)
	rss=$(tail -n 1 "$TEST_DIR/rss" 2>/dev/null)
	printf '%-34s rc=%-3s %6.2fs %6s KiB\n' "$name" "$_t_rc" "$secs" "${rss:--}" \
		>>"$TEST_DIR/faults.times"
	if [[ $rss =~ ^[0-9]+$ ]] && ((RSS_MAX_KB && rss > RSS_MAX_KB)); then
		test_not_ok "$name: peak RSS under $((RSS_MAX_KB / 1024)) MiB" "got $rss KiB"
	fi
	(($#)) && [[ -s $FAULT_LOG ]] &&
		_t_extra="# --- fault-server log (last 10 lines) ---"$'\n'$(tail -n 10 "$FAULT_LOG" | sed 's/^/#   /')
	if [[ -n $_t_crash ]] && ((_t_rc != want)); then
		_t_report_cmd "$name: exit status $want" "crashed: $_t_crash" "$cmd"
	elif ((_t_rc == 124)); then
		_t_report_cmd "$name: exit status $want" "timed out after $TMO s" "$cmd"
	elif ((_t_rc != want)); then
		_t_report_cmd "$name: exit status $want" "got $_t_rc" "$cmd"
	else
		_t_extra=
		test_ok "$name: exit status $want (${secs%.*}s)"
	fi
	if [[ $phrase != - ]]; then
		grep -qiE -- "$phrase" "$ERR" && test_ok "$name: says '$phrase'" ||
			test_not_ok "$name: says '$phrase'" "$(head -c 600 "$ERR")"
	fi
	if grep -q $'\x1b' "$ERR"; then
		test_not_ok "$name: no control characters on stderr" "$(cat -v "$ERR" | head -c 400)"
	fi
	if bad=$(state_check "$_t_rc"); then
		test_ok "$name: layout and cache as valid as before"
	else
		test_not_ok "$name: layout and cache as valid as before" "$bad"
	fi
	# start the next row from the same state: a success pulled what it
	# pulled, and a failure may have kept verified blobs (the manifest)
	rm -rf "$W" && cp -a "$TEST_DIR/w0" "$W"
	return 0
}

MAN='^GET /v2/bad/img/manifests/'
MANH='^(GET|HEAD) /v2/bad/img/manifests/'
BLOB='^GET /v2/bad/img/blobs/sha256:'
LAYER="^GET /v2/bad/img/blobs/$L0"

# ---- the table ----------------------------------------------------------------------
#     name                      rc phrase                          command  fault-server args
fcase "wrong bytes for a digest" 1 'blob content has digest'                        "$PULL" --corrupt-blob
fcase "truncated body, resumed"  0 -                               "$PULL" --drop-mid-blob 20
fcase "truncated every time"     1 'connection|partial|transfer|closed|recv|short' \
                                                                   "$PULL" --drop-mid-blob 20 --drop-count -1
fcase "RST once, retried"        0 -                               "$PULL" --rule "$MAN" 'reset*1'
fcase "RST every time"           1 'reset|recv|connection'         "$PULL" --rule "$MAN" reset
fcase "RST mid-blob every time"  1 'reset|recv|connection'         "$PULL" --rule "$LAYER" reset@20
fcase "429 Retry-After 1"        0 -                               "$PULL" --status-once 429:1 --status-match "$MAN"
fcase "503 Retry-After HTTP-date" 0 -                              "$PULL" --status-once 503:d1 --status-match "$MAN"
fcase "503 no Retry-After"       0 -                               "$PULL" --status-once 503 --status-match "$MAN"
fcase "429 Retry-After 1 hour"   1 '429|too many'                  "$PULL" --status-once 429:3600 --status-match "$MAN" --status-count 5
fcase "503 every time"           1 '503|unavailable'               "$PULL" --status-once 503 --status-match "$MAN" --status-count 20
fcase "500 every 3rd request"    0 -                               "$PULL" --status-every 3
fcase "500 every request"        1 '500|unknown'                   "$PULL" --status-every 1
fcase "endless manifest body"    1 'larger|too big|too large|limit' "$PULL" --rule "$MAN" "endless:$MT"
fcase "endless blob body"        1 'size|larger|more|too big'      "$PULL" --rule "$LAYER" endless
fcase "manifest Content-Length too big" 1 'slow|timeout|timed out' "$PULL" --rule "$MAN" overlong:1000
fcase "blob Content-Length too big" 1 'slow|timeout|timed out|size|larger' "$PULL" --rule "$LAYER" overlong:1000
fcase "manifest drip 1 B/s"      1 'slow|timeout|timed out'        "$PULL" --rule "$MAN" drip
fcase "blob drip 1 B/s"          1 'slow|timeout|timed out'        "$PULL" --rule "$LAYER" drip
fcase "50 MB manifest"           1 'larger|too big|too large|limit' "$PULL" --rule "$MANH" "file:200:$MT:$D/big.json"
fcase "malformed manifest"       1 'json|parse|invalid|malformed'  "$PULL" --rule "$MANH" "file:200:$MT:$D/malformed.json"
fcase "nested manifest"          1 'json|parse|invalid|deep|nest'  "$PULL" --rule "$MANH" "file:200:$MT:$D/nested.json"
fcase "nested object manifest"   1 'json|parse|invalid|deep|nest'  "$PULL" --rule "$MANH" "file:200:$MT:$D/nested-obj.json"
fcase "layer digest ../../etc/passwd" 1 'invalid digest'                   "$PULL" --rule "$MANH" "file:200:$MT:$D/trav-layer.json"
fcase "config digest ../etc/passwd" 1 'invalid digest'                     "$PULL" --rule "$MANH" "file:200:$MT:$D/trav-config.json"
fcase "index child ../../etc/passwd" 1 'invalid digest'            "$PULL" --rule "$MANH" "file:200:application/vnd.oci.image.index.v1+json:$D/trav-index.json"
fcase "layer size -1"            1 'size must be'                          "$PULL" --rule "$MANH" "file:200:$MT:$D/size-neg.json"
fcase "layer size 2^63"          1 'size must be'       "$PULL" --rule "$MANH" "file:200:$MT:$D/size-2p63.json"
fcase "layer size 2^63-1"        1 'size must be'    "$PULL" --rule "$MANH" "file:200:$MT:$D/size-max.json"
fcase "manifest not its digest"  1 'does not match its digest'        "$PULL" --rule "$MAN" "file:200:$MT:$D/good.json"
fcase "redirect to file:///etc/passwd" 1 'unusable location' "$PULL" --rule "$MAN" redirect:file:///etc/passwd
fcase "redirect loop"            1 'too many redirects'                      "$PULL" --rule "$MAN" redirect:self
fcase "huge error body"          1 '404|not found'                 "$PULL" --rule "$MAN" "file:404:application/json:$D/big.json"
fcase "nested error body"        1 '404|not found'                 "$PULL" --rule "$MAN" "file:404:application/json:$D/nested-err.json"
fcase "garbage error body"       1 '500|server'                    "$PULL" --rule "$MAN" "file:500:application/json:$D/garbage.txt"

TAGS='^GET /v2/bad/img/tags/list'
LS='hx ls "$FAULT/bad/img"'
fcase "tags: malformed"          1 'json|parse|invalid'            "$LS" --rule "$TAGS" "file:200:application/json:$D/malformed.json"
fcase "tags: nested"             1 'json|parse|invalid|deep|nest'  "$LS" --rule "$TAGS" "file:200:application/json:$D/nested.json"
fcase "tags: 36 MB"              1 'larger|too big|too large|limit' "$LS" --rule "$TAGS" "file:200:application/json:$D/huge-tags.json"
fcase "tags: endless"            1 'larger|too big|too large|limit' "$LS" --rule "$TAGS" endless:application/json
CAT='^GET /v2/_catalog'
CATC='hx catalog "$FAULT"'
fcase "catalog: malformed"       1 'json|parse|invalid'            "$CATC" --rule "$CAT" "file:200:application/json:$D/malformed.json"
fcase "catalog: nested"          1 'json|parse|invalid|deep|nest'  "$CATC" --rule "$CAT" "file:200:application/json:$D/nested-obj.json"
fcase "catalog: 50 MB"           1 'larger|too big|too large|limit' "$CATC" --rule "$CAT" "file:200:application/json:$D/big.json"

TPULL() { hx --cache "$W/cache" pull "$TR/$1/img:1" "$W/lay"; }
fcase "token: not JSON"          1 'token'                         'TPULL nojson'
fcase "token: JSON without token" 1 'token'                        'TPULL notoken'
fcase "token: 2 MB token"        1 'token'                         'TPULL hugetoken'
fcase "token: nested JSON"       1 'token'                         'TPULL nestedtoken'
fcase "token: endless"           1 'token'                         'TPULL endlesstoken'
fcase "token: 500"               1 'token|500'                     'TPULL tok500'

if alt_loopback_ok && [[ -z ${T0910_ONLY-} ]]; then
	fcase "blobs redirected to another host" 0 - \
		'hx --cache "$W/cache" pull "$FAULT_authf/priv/img:1" "$W/lay"'
	grep -q ' action=redirect' "$FAULT_LOG_authf" && grep -q 'action=blob-dir' "$FAULT_LOG_blobs2" &&
		test_ok "blobs were fetched from the other host" ||
		test_not_ok "blobs were fetched from the other host" "$(cat "$FAULT_LOG_authf" "$FAULT_LOG_blobs2")"
	grep -q 'auth=yes' "$FAULT_LOG_blobs2" &&
		test_not_ok "credentials are not forwarded to the other host" "$(cat "$FAULT_LOG_blobs2")" ||
		test_ok "credentials are not forwarded to the other host"
	grep -q 'GET /v2/priv/img/manifests/.* auth=yes' "$FAULT_LOG_authf" &&
		test_ok "credentials were sent to the registry itself" ||
		test_not_ok "credentials were sent to the registry itself" "$(cat "$FAULT_LOG_authf")"
else
	test_skip "redirect to another host" "$ALT_LOOPBACK unusable"
fi

# ---- uploads acknowledged wrongly ------------------------------------------------------
PUT='^PUT /v2/pushed/[a-z]+/blobs/uploads/'
PUSH() { hx --cache "$W/cache" push --ref "$R/good/img:1" "$W/lay" "$FAULT/pushed/$1:1"; }
fcase "push: wrong Docker-Content-Digest" 1 'stored it as' 'PUSH wrongdigest' \
	--rule "$PUT" "header:Docker-Content-Digest:sha256:$(printf '0%.0s' {1..64})"
fcase "push: manifest PUT wrong digest" 1 'stored it as' 'PUSH mwrong' \
	--rule '^PUT /v2/pushed/[a-z]+/manifests/' "header:Docker-Content-Digest:sha256:$(printf '0%.0s' {1..64})"
fcase "push: 201 Location elsewhere" 0 - 'PUSH location' \
	--rule "$PUT" "header:Location:http://$ALT_LOOPBACK:9/v2/elsewhere/blobs/sha256:$(printf '0%.0s' {1..64})"
fcase "push: RST on the final PUT" 1 'reset|recv|connection|upload' 'PUSH rst' --rule "$PUT" reset

sed 's/^/# /' "$TEST_DIR/faults.times"
test_done
