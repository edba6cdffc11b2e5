#!/bin/bash
# tests/serve.sh -- siam serve over HTTP, with curl, against a server this
# test starts on a free port (--listen 127.0.0.1:0, the port read from the
# line it prints): the verdicts and distances of siam verify on the example
# digits, search, duplicates, thumbnails, the page, and every error path
# (413, 400 for not an image / truncated / a decompression bomb / bad
# fields, 404, 405, bad ids, path traversal, 503 over the concurrency
# limit); parallel verifies give the serial distances; SIGTERM lets a
# request under way finish; an upload slower than --request-timeout is
# cut off and its place freed.  TAP.  bash for /dev/tcp (raw, slow uploads).
set -u
b=${SIAM_BUILDDIR:-.}
s=${SIAM_SRCDIR:-.}
. "$s/tests/tap.sh"
. "$s/tests/serve_start.sh"
siam="$b/siam"
model="$s/models/mnist.siam"
dg="$s/examples/digits"
if ! command -v curl >/dev/null 2>&1; then
	echo "1..0 # SKIP no curl"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/siam-serve.XXXXXX") || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "${hpid:-}" ] && kill "$hpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
unset SIAM_MODEL

# Starts siam serve with the options given; sets pid, port, url.
start() {
	serve_start "$siam" "$tmp" --listen 127.0.0.1:0 "$@"
	url=http://127.0.0.1:$port
	[ -n "$port" ]
}
stop() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	local rc=$?
	pid=
	return $rc
}
# http METHOD PATH [curl args]: prints "STATUS" and saves the body.
http() {
	local m=$1 p=$2
	shift 2
	curl -s --path-as-is -o "$tmp/body" -w '%{http_code}' -X "$m" \
		"$url$p" "$@"
}
json_num() { # json_num KEY FILE: the number after the first "KEY":
	grep -o "\"$1\":[-0-9.eE+]*" "$2" | head -1 | cut -d: -f2
}
# Waits until /api/health says in_flight = N.
wait_in_flight() {
	for _ in $(seq 1 600); do
		curl -s "$url/api/health" >"$tmp/h" 2>/dev/null
		[ "$(json_num in_flight "$tmp/h")" = "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# The index: the example digits, with the default model.
"$siam" index --db "$tmp/db" --model "$model" --quiet "$dg" >/dev/null 2>&1
ok $? "siam index the example digits"

start --db "$tmp/db" --model "$model" --threads 2 --max-upload 512K \
	--max-requests 16
ok $? "siam serve prints the port it listens on ($port)"

is "$(http GET /api/health)" 200 "GET /api/health"
grep -q '"ok":true' "$tmp/body"; ok $? "health says ok"
grep -q '"max_requests":16,' "$tmp/body"; ok $? "health shows --max-requests"

# ---- the page, embedded
is "$(http GET /)" 200 "GET / (the Compare page)"
grep -q '<title>siam</title>' "$tmp/body"; ok $? "the page is siam's"
grep -q 'id="compare"' "$tmp/body" && grep -q 'id="search"' "$tmp/body" &&
	grep -q 'id="duplicates"' "$tmp/body"
ok $? "the page has Compare, Search and Duplicates"
grep -qE 'https?://' "$tmp/body"; [ $? != 0 ]; ok $? "the page loads nothing from elsewhere"
is "$(http GET /app.js)" 200 "GET /app.js"
is "$(http GET /style.css)" 200 "GET /style.css"
ct=$(curl -s -o /dev/null -w '%{content_type}' "$url/app.js")
is "$ct" "text/javascript; charset=utf-8" "app.js content type"
csp=$(curl -s -D - -o /dev/null "$url/" | tr -d '\r' | sed -n 's/^Content-Security-Policy: //p')
case $csp in "default-src 'self'"*) r=0 ;; *) r=1 ;; esac
ok $r "Content-Security-Policy: $csp"

# ---- verify: the distances siam verify gives
pairs="3/drawn-0093.png 3/mnist-0018.png
3/drawn-0093.png 7/drawn-0079.png
1/drawn-0074.png 1/mnist-0005.png
0/drawn-0136.png 8/drawn-0226.png
7/drawn-0079.png 7/mnist-0000.png
5/drawn-0129.png 6/mnist-0011.png"
i=0
while read -r a bb; do
	[ -f "$dg/$a" ] && [ -f "$dg/$bb" ] || { a=; }
	if [ -z "$a" ]; then
		ok 1 "example pair $i exists"
		continue
	fi
	i=$((i + 1))
	want=$("$siam" verify --json --model "$model" "$dg/$a" "$dg/$bb")
	wd=$(echo "$want" | sed 's/.*"distance":\([^,]*\),.*/\1/')
	ws=$(echo "$want" | sed 's/.*"same":\([a-z]*\).*/\1/')
	st=$(http POST /api/verify -F "a=@$dg/$a" -F "b=@$dg/$bb")
	is "$st" 200 "POST /api/verify $a $bb"
	gd=$(json_num distance "$tmp/body")
	gs=$(sed 's/.*"same":\([a-z]*\).*/\1/' "$tmp/body")
	is "$(printf '%.6g' "$gd")" "$wd" "$a vs $bb: the distance of siam verify ($gd)"
	is "$gs" "$ws" "$a vs $bb: the verdict of siam verify ($ws)"
	echo "$a $bb $gd" >>"$tmp/serial"
done <<EOF
$pairs
EOF
grep -q '"model":"mnist"' "$tmp/body"; ok $? "the answer names the model"
http POST /api/verify -F "a=@$dg/3/drawn-0093.png" -F "b=@$dg/3/drawn-0093.png" >/dev/null
is "$(json_num distance "$tmp/body")" 0 "an image against itself: distance 0"

# A model by name (--model given a file: its name is the file's).
is "$(http POST '/api/verify?model=nope' -F "a=@$dg/3/drawn-0093.png" -F "b=@$dg/3/drawn-0093.png")" \
	404 "an unknown model: 404"
is "$(http GET /api/models)" 200 "GET /api/models"
grep -q '"name":"mnist"' "$tmp/body" && grep -q '"input":"1x28x28"' "$tmp/body"
ok $? "the model menu lists mnist 1x28x28"

# ---- errors: what the client sent
printf 'hello, not an image\n' >"$tmp/text.png"
is "$(http POST /api/verify -F "a=@$tmp/text.png" -F "b=@$dg/3/drawn-0093.png")" 400 "not an image: 400"
grep -q '"error":"image a (text.png): ' "$tmp/body"; ok $? "the error names the upload: $(head -c 120 "$tmp/body")"
head -c 200 "$dg/3/drawn-0093.png" >"$tmp/trunc.png"
is "$(http POST /api/verify -F "a=@$dg/3/drawn-0093.png" -F "b=@$tmp/trunc.png")" 400 "a truncated PNG: 400"
grep -q '"error":"image b (trunc.png): ' "$tmp/body"; ok $? "names image b: $(head -c 120 "$tmp/body")"
: >"$tmp/empty.png"
is "$(http POST /api/verify -F "a=@$tmp/empty.png" -F "b=@$dg/3/drawn-0093.png")" 400 "an empty upload: 400"
# A decompression bomb: a valid PNG of 30000 x 30000 pixels (900 Mpx of
# zeros, a few hundred KB compressed) is refused from its header.
python3 - "$tmp/bomb.png" <<'EOF'
import struct, sys, zlib
w = h = 30000
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
c = zlib.compressobj(9)
row = b"\0" * (w + 1)
data = b"".join(c.compress(row) for _ in range(2000)) + c.flush()
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", data) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
EOF
is "$(http POST /api/verify -F "a=@$tmp/bomb.png" -F "b=@$dg/3/drawn-0093.png")" 400 "a decompression bomb: 400"
grep -q 'pixels' "$tmp/body"; ok $? "says why: $(head -c 160 "$tmp/body")"
is "$(http POST /api/verify -F "a=@$dg/3/drawn-0093.png")" 400 "one image only: 400"
grep -q "'b'" "$tmp/body"; ok $? "names the missing field: $(head -c 120 "$tmp/body")"
is "$(http POST /api/verify -d 'a=1&b=2')" 400 "a form that is not multipart: 400"
is "$(http POST /api/verify -H 'Content-Type: text/plain' --data-binary @"$tmp/text.png")" 400 "a text body: 400"
is "$(http GET /api/verify)" 405 "GET /api/verify: 405"
is "$(http PUT /)" 405 "PUT /: 405"
is "$(http DELETE /api/image/1)" 405 "DELETE: 405"
is "$(http POST /api/health)" 405 "POST /api/health: 405"

# ---- the upload cap: 413, announced or chunked
head -c 700000 /dev/urandom >"$tmp/big.bin"
# Expect: 100-continue, so that curl waits for the answer before sending
# the body: the server answers 413 from the headers and closes, and a
# client still sending then may get the reset before the answer (curl:
# 000), which ThreadSanitizer's slower server made happen in CI
is "$(http POST /api/verify -H 'Expect: 100-continue' -F "a=@$tmp/big.bin" -F "b=@$dg/3/drawn-0093.png")" 413 "an upload over --max-upload: 413"
grep -q '"error":"upload of [0-9]* bytes is over the limit of 524288 bytes' "$tmp/body"
ok $? "413 in JSON: $(head -c 120 "$tmp/body")"
is "$(http POST /api/verify -H 'Transfer-Encoding: chunked' -F "a=@$tmp/big.bin" -F "b=@$dg/3/drawn-0093.png")" \
	413 "a chunked upload over --max-upload: 413"
grep -q 'over the limit of 524288 bytes' "$tmp/body"; ok $? "chunked 413 in JSON"
is "$(http POST /api/verify -H 'Transfer-Encoding: chunked' -F "a=@$dg/3/drawn-0093.png" -F "b=@$dg/3/mnist-0018.png")" \
	200 "a chunked upload under the cap: 200"

# ---- DNS rebinding: a loopback server answers to loopback names only
is "$(http GET /api/health -H 'Host: evil.example')" 403 "Host: evil.example: 403"
grep -q 'Host not allowed' "$tmp/body"; ok $? "says why"
is "$(http GET /api/health -H 'Host: 127.0.0.1.evil.example:80')" 403 "Host: 127.0.0.1.evil.example: 403"
is "$(http GET /api/health -H "Host: localhost:$port")" 200 "Host: localhost:PORT: 200"
is "$(http GET /api/health -H 'Host: [::1]:8080')" 200 "Host: [::1]:8080: 200"

# ---- 404s, ids and path traversal
is "$(http GET /nope)" 404 "GET /nope: 404"
grep -q '"status":404' "$tmp/body"; ok $? "404 in JSON"
is "$(http GET /api/nope)" 404 "GET /api/nope: 404"
for p in /../../../../etc/passwd /%2e%2e/%2e%2e/etc/passwd /..%2f..%2fetc%2fpasswd \
	"/index.html/../../etc/passwd" //etc/passwd /www/index.html; do
	st=$(http GET "$p")
	is "$st" 404 "GET $p: 404"
	grep -q 'root:' "$tmp/body"; [ $? != 0 ]; ok $? "GET $p: no file read"
done
is "$(http GET /api/image/1)" 200 "GET /api/image/1: a thumbnail"
is "$(head -c 4 "$tmp/body" | od -An -tx1 | tr -d ' ')" 89504e47 "the thumbnail is a PNG"
is "$(http GET /api/image/99999999)" 404 "an id not in the index: 404"
for id in abc -1 0 01 1.0 1e3 "..%2f..%2fetc%2fpasswd" 99999999999999999999 \
	"%2fetc%2fpasswd"; do
	is "$(http GET "/api/image/$id")" 400 "bad image id '$id': 400"
done
is "$(http GET /api/image/)" 400 "no image id: 400"
is "$(http POST /api/preprocess -F "image_id=../../etc/passwd")" 400 "image_id that is a path: 400"

# ---- the network's input
is "$(http POST /api/preprocess -F "image=@$dg/3/drawn-0093.png")" 200 "POST /api/preprocess"
is "$(od -An -tx1 -j16 -N8 "$tmp/body" | tr -d ' \n')" 0000001c0000001c "a 28x28 PNG"
is "$(http POST /api/preprocess -F "image_id=1")" 200 "POST /api/preprocess by id"

# ---- search
is "$(http POST '/api/search?k=5' -F "image=@$dg/3/mnist-0018.png")" 200 "POST /api/search?k=5"
is "$(grep -o '"id":' "$tmp/body" | wc -l | tr -d ' ')" 5 "5 results"
is "$(json_num distance "$tmp/body")" 0 "the indexed image itself first, at distance 0"
grep -q '"path":"[^"]*mnist-0018.png"' "$tmp/body"; ok $? "with its path"
n3=$(grep -o '"label":"3"' "$tmp/body" | wc -l)
[ "$n3" -ge 4 ]; ok $? "4 or more of the 5 nearest are 3s ($n3)"
is "$(http POST /api/search -F "image=@$dg/3/mnist-0018.png")" 200 "search without k"
is "$(grep -o '"id":' "$tmp/body" | wc -l | tr -d ' ')" 10 "k defaults to 10"
for k in 0 101 abc -3 5x; do
	is "$(http POST "/api/search?k=$k" -F "image=@$dg/3/mnist-0018.png")" 400 "k=$k: 400"
done
is "$(http POST /api/search -F "image=@$tmp/text.png")" 400 "search with not an image: 400"

# ---- duplicates: the example digits hold no copies, but same-digit
# pairs under the match threshold group (what siam dedup prints too).
is "$(http GET /api/duplicates)" 200 "GET /api/duplicates"
g=$(json_num groups "$tmp/body")
want_g=$("$siam" dedup --db "$tmp/db" --json 2>/dev/null | grep -o '"keeper":{' | wc -l | tr -d ' ')
is "$g" "$want_g" "as many groups as siam dedup ($want_g)"
is "$(http GET /api/duplicates)" 200 "GET /api/duplicates again (kept)"
is "$(json_num groups "$tmp/body")" "$g" "the same groups"

# ---- parallel verifies give the serial distances
: >"$tmp/par"
for r in $(seq 1 8); do cut -d" " -f1,2 "$tmp/serial"; done >"$tmp/jobs"
sed "s|\$| $url $dg|" "$tmp/jobs" >"$tmp/jobs2"
# shellcheck disable=SC2016
xargs -P 8 -L 1 sh -c 'd=$(curl -s -F "a=@$3/$0" -F "b=@$3/$1" "$2/api/verify" |
	sed -n "s/.*\"distance\":\([^,]*\),.*/\1/p;t;s/^/no distance: /p"); echo "$0 $1 $d"' \
	<"$tmp/jobs2" >"$tmp/par" 2>&1
is "$(wc -l <"$tmp/par" | tr -d ' ')" "$(wc -l <"$tmp/jobs" | tr -d ' ')" "48 parallel verifies answered"
is "$(sort "$tmp/par" | uniq | wc -l | tr -d ' ')" "$(wc -l <"$tmp/serial" | tr -d ' ')" \
	"each pair gave one distance in parallel"
is "$(sort -u "$tmp/par")" "$(sort -u "$tmp/serial")" "the parallel distances are the serial ones, bit for bit"

# ---- 503 over --max-requests (3): three uploads that stop halfway
# hold their places; the fourth request is refused before its body.
stop; ok $? "stopped"
start --db "$tmp/db" --model "$model" --threads 2 --max-requests 3
ok $? "started with --max-requests 3"
slow() { # slow FD: a verify whose body is announced but never ends
	eval "exec $1<>/dev/tcp/127.0.0.1/$port"
	printf 'POST /api/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 10000\r\n\r\n--XyZ\r\n' >&"$1"
}
slow 5; slow 6; slow 7
wait_in_flight 3; ok $? "three requests under way (health in_flight 3)"
is "$(http POST /api/verify -F "a=@$dg/3/drawn-0093.png" -F "b=@$dg/3/mnist-0018.png")" 503 "a fourth: 503"
grep -q '"error":"busy: 3 requests under way' "$tmp/body"; ok $? "503 in JSON: $(head -c 100 "$tmp/body")"
is "$(http GET /api/health)" 200 "health still answers when busy"
grep -q '"refused":1,' "$tmp/body"; ok $? "health counts the refusal"
exec 5>&- 6>&- 7>&-
wait_in_flight 0; ok $? "closed: none under way"
is "$(http POST /api/verify -F "a=@$dg/3/drawn-0093.png" -F "b=@$dg/3/mnist-0018.png")" 200 "then served again"

# ---- SIGTERM: a request under way finishes, then the server exits 0
{
	printf -- '--XyZ\r\nContent-Disposition: form-data; name="a"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
	cat "$dg/3/drawn-0093.png"
	printf -- '\r\n--XyZ\r\nContent-Disposition: form-data; name="b"; filename="b.png"\r\nContent-Type: image/png\r\n\r\n'
	cat "$dg/3/mnist-0018.png"
	printf -- '\r\n--XyZ--\r\n'
} >"$tmp/mp"
len=$(wc -c <"$tmp/mp")
exec 5<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /api/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %d\r\n\r\n' "$len" >&5
head -c 300 "$tmp/mp" >&5
wait_in_flight 1; ok $? "an upload under way"
kill -TERM "$pid"
for _ in $(seq 1 100); do grep -q 'stopping' "$tmp/err" && break; sleep 0.05; done
grep -q 'SIGTERM: stopping after the requests under way' "$tmp/err"; ok $? "SIGTERM: stopping"
curl -s -m 2 -o /dev/null "$url/api/health"; [ $? != 0 ]; ok $? "no new connection accepted"
tail -c +301 "$tmp/mp" >&5
resp=$(cat <&5 | tr -d '\r')
exec 5>&-
case $resp in "HTTP/1.1 200 OK"*'"same":true'*) r=0 ;; *) r=1 ;; esac
ok $r "the request under way was answered: $(echo "$resp" | head -1)"
wait "$pid"; is $? 0 "the server exits 0"
pid=

# ---- --request-timeout: an upload that drips in and never ends is cut
# off and its place freed, and the server answers others meanwhile (one
# thread, one place for work: the drip holds it while it lasts).
start --model "$model" --threads 1 --max-requests 1 --request-timeout 2
ok $? "started with --request-timeout 2 --max-requests 1 --threads 1"
exec 5<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /api/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 100000\r\n\r\n--XyZ\r\n' >&5
# a byte every 0.2 s until the server closes the connection
(trap '' PIPE; while printf x >&5 2>/dev/null; do sleep 0.2; done) &
drip=$!
wait_in_flight 1; ok $? "the drip holds its place; health answers meanwhile"
is "$(http GET /)" 200 "the page is served meanwhile"
# the server closes the drip's connection: the read ends (a hang guard
# only: timeout stops a server that never closes it)
# (cat ends 0 at the end of the stream, 1 if a reset came first)
timeout 60 cat <&5 >"$tmp/drip" 2>/dev/null
r=$?; [ $r = 0 ] || [ $r = 1 ]; ok $? "the drip's connection is closed by the server ($r)"
exec 5>&-
kill "$drip" 2>/dev/null; wait "$drip" 2>/dev/null
[ ! -s "$tmp/drip" ]; ok $? "closed without an answer"
grep -q 'request timeout: the body was not in after 2 s' "$tmp/err"; ok $? "the server says why: $(grep 'request timeout' "$tmp/err" | head -1)"
wait_in_flight 0; ok $? "its place is freed"
is "$(http POST /api/verify -F "a=@$dg/3/drawn-0093.png" -F "b=@$dg/3/mnist-0018.png")" 200 "then a verify is served"
stop; is $? 0 "stopped"
"$siam" serve --request-timeout 0 >/dev/null 2>&1; is $? 2 "--request-timeout 0: exit 2"

# ---- an image indexed by URL: search marks it (the page shows a
# placeholder), and the server never fetches it (a local HTTP server
# counts the requests).
hport= hpid=
if command -v python3 >/dev/null 2>&1; then
	mkdir -p "$tmp/www"
	cp "$dg/3/mnist-0018.png" "$tmp/www/three.png"
	python3 - "$tmp/www" "$tmp/hits" >"$tmp/http.port" 2>/dev/null <<'EOF' &
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        with open(sys.argv[2], "a") as f:
            f.write(self.path + "\n")
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(H, directory=sys.argv[1]))
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
	hpid=$!
	for _ in $(seq 1 600); do
		hport=$(cat "$tmp/http.port" 2>/dev/null)
		[ -n "$hport" ] && break
		kill -0 "$hpid" 2>/dev/null || break
		sleep 0.1
	done
fi
if [ -n "$hport" ]; then
	echo "http://127.0.0.1:$hport/three.png" >"$tmp/urls"
	"$siam" index --db "$tmp/udb" --model "$model" --urls "$tmp/urls" >/dev/null 2>&1
	is "$(grep -c three.png "$tmp/hits" 2>/dev/null)" 1 "a digit indexed by URL (fetched once by siam index)"
	: >"$tmp/hits"
	start --db "$tmp/udb" --model "$model" --threads 1
	is "$(http POST '/api/search?k=1' -F "image=@$dg/3/mnist-0018.png")" 200 "search an index of a URL"
	grep -q '"url":true,"path":"http://127.0.0.1:' "$tmp/body"; ok $? "the hit is marked url: $(head -c 120 "$tmp/body")"
	id=$(json_num id "$tmp/body")
	is "$(http GET "/api/image/$id")" 404 "its thumbnail: 404"
	grep -q 'is a URL: not read by siam serve' "$tmp/body"; ok $? "says why"
	is "$(http POST /api/verify -F "a=@$dg/3/mnist-0018.png" -F "b_id=$id")" 404 "compare with it: 404"
	[ ! -s "$tmp/hits" ]; ok $? "the URL was never fetched by the server"
	grep -q "'URL: not fetched'" "$s/src/serve/www/app.js"; ok $? "the page has a placeholder for it"
	stop
else
	for _ in 1 2 3 4 5 6 7 8; do ok 0 "# SKIP no python3 HTTP server on 127.0.0.1"; done
fi
[ -n "$hpid" ] && kill "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null

# ---- options
"$siam" serve --listen nonsense >/dev/null 2>"$tmp/e"; is $? 2 "--listen nonsense: exit 2"
grep -q 'want HOST:PORT' "$tmp/e"; ok $? "says what it wants"
"$siam" serve --max-upload 12Q >/dev/null 2>&1; is $? 2 "--max-upload 12Q: exit 2"
"$siam" serve --model "$tmp/nope.siam" --listen 127.0.0.1:0 >/dev/null 2>&1; is $? 2 "a missing model: exit 2"
"$siam" serve --db "$tmp/nope.db" --model "$model" --listen 127.0.0.1:0 >/dev/null 2>&1
is $? 2 "a database that does not exist: exit 2"
[ ! -e "$tmp/nope.db" ]; ok $? "and it is not created"
"$siam" serve --help | grep -q 'usage: siam serve'; ok $? "--help"
# The port in use: a second server on the first one's port.
start --model "$model" --threads 1
"$siam" serve --model "$model" --listen "127.0.0.1:$port" >/dev/null 2>"$tmp/e"
is $? 2 "the port in use: exit 2"
grep -q "cannot listen on 127.0.0.1 port $port" "$tmp/e"; ok $? "says so: $(cat "$tmp/e")"
# No database: Compare only.
is "$(http POST /api/search -F "image=@$dg/3/mnist-0018.png")" 503 "search without a database: 503"
grep -q 'no index to search' "$tmp/body"; ok $? "says why"
is "$(http GET /api/image/1)" 503 "a thumbnail without a database: 503"
is "$(http POST /api/verify -F "a=@$dg/3/drawn-0093.png" -F "b=@$dg/3/mnist-0018.png")" 200 "verify without a database"
stop; is $? 0 "stopped with SIGTERM: exit 0"
# All interfaces: a warning.
start --model "$model" --threads 1 --listen 0.0.0.0:0
grep -q 'warning: listening on all interfaces' "$tmp/err"; ok $? "0.0.0.0: a warning"
stop
tap_end
