#!/usr/bin/env python3
"""A stand-in for X's API on 127.0.0.1, for the demo and the benchmark.

It answers POST /2/tweets (JSON) and POST /1.1/statuses/update.json (form) as X does, and
the media uploads that come before them (POST /2/media/upload, /1.1/media/upload.json,
multipart), after checking the OAuth 1.0a HMAC-SHA1 signature of every request (RFC 5849
section 3.4) with the keys it was given; anything unsigned or signed with other keys gets
X's 401. Like X, it refuses a post whose text it already accepted (403, duplicate content)
and media ids it never gave out (400). It says where it listens on stderr, and logs each
accepted post and upload on stdout. Standard library only.

    python3 scripts/fake_x_api.py --keys CK,CS,AT,ATS --port-file PATH [--accept-unsigned]
        [--accept-duplicates]
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def encode(text):
    return urllib.parse.quote(text, safe="-._~")


def verify(method, base_url, query, form, header, keys):
    consumer_key, consumer_secret, token, token_secret = keys
    if not header or not header.startswith("OAuth "):
        return "no OAuth Authorization header"
    protocol = {}
    for field in header[len("OAuth "):].split(","):
        key, _, value = field.strip().partition("=")
        protocol[urllib.parse.unquote(key)] = urllib.parse.unquote(value.strip('"'))
    if protocol.get("oauth_consumer_key") != consumer_key or protocol.get("oauth_token") != token:
        return "unknown consumer key or token"
    if abs(int(protocol.get("oauth_timestamp", "0")) - time.time()) > 300:
        return "stale timestamp"
    signature = protocol.pop("oauth_signature", "")
    protocol.pop("realm", None)
    pairs = [(encode(k), encode(v)) for k, v in protocol.items()]
    pairs += [(encode(k), encode(v)) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)]
    pairs += [(encode(k), encode(v)) for k, v in urllib.parse.parse_qsl(form, keep_blank_values=True)]
    normalized = "&".join("%s=%s" % pair for pair in sorted(pairs))
    base = "&".join([method.upper(), encode(base_url), encode(normalized)])
    key = "%s&%s" % (encode(consumer_secret), encode(token_secret))
    expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest())
    if not hmac.compare_digest(expected.decode(), signature):
        return "bad signature"
    return None


class Handler(BaseHTTPRequestHandler):
    keys = None
    accept_unsigned = False
    accept_duplicates = False
    posts = 0
    texts = set()
    media = {}

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        body = raw.decode("utf-8", "replace")
        path, _, query = self.path.partition("?")
        form = body if self.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded") else ""
        problem = verify("POST", "http://%s%s" % (self.headers["Host"], path), query, form,
                         self.headers.get("Authorization"), self.keys)
        if problem and not (self.accept_unsigned and not self.headers.get("Authorization")):
            print("rejected %s: %s" % (path, problem), flush=True)
            return self.answer(401, {"title": "Unauthorized", "detail": "Unauthorized",
                                     "status": 401})
        Handler.posts += 1
        post_id = "1860000000000%06d" % Handler.posts
        if path in ("/2/media/upload", "/1.1/media/upload.json"):
            size = media_size(self.headers.get("Content-Type", ""), raw)
            if size is None:
                return self.answer(400, {"title": "Invalid Request", "status": 400,
                                         "detail": "One or more parameters to your request was "
                                                   "invalid: no media part"})
            Handler.media[post_id] = size
            print("accepted a signed media upload: %d bytes, id %s" % (size, post_id),
                  flush=True)
            if path == "/2/media/upload":
                return self.answer(200, {"data": {"id": post_id, "media_key": "3_" + post_id,
                                                  "size": size}})
            return self.answer(200, {"media_id": int(post_id), "media_id_string": post_id,
                                     "size": size})
        if path == "/2/tweets":
            request = json.loads(body or "{}")
            text = request.get("text", "")
            media_ids = request.get("media", {}).get("media_ids", [])
            v2 = True
        elif path == "/1.1/statuses/update.json":
            fields = dict(urllib.parse.parse_qsl(body))
            text = fields.get("status", "")
            media_ids = [i for i in fields.get("media_ids", "").split(",") if i]
            v2 = False
        else:
            return self.answer(404, {"title": "Not Found", "status": 404})
        if any(media_id not in Handler.media for media_id in media_ids):
            return self.answer(400, {"title": "Invalid Request", "status": 400,
                                     "detail": "Your media IDs are invalid."})
        if text in Handler.texts and not Handler.accept_duplicates:
            print("refused a duplicate post: %s" % text, flush=True)
            if v2:
                return self.answer(403, {"title": "Forbidden", "status": 403,
                                         "detail": "You are not allowed to create a Tweet "
                                                   "with duplicate content."})
            return self.answer(403, {"errors": [{"code": 187,
                                                 "message": "Status is a duplicate."}]})
        Handler.texts.add(text)
        print("accepted a signed post: %s%s" % (
            text, " (media %s)" % ", ".join(media_ids) if media_ids else ""), flush=True)
        if v2:
            return self.answer(201, {"data": {"id": post_id, "text": text,
                                              "edit_history_tweet_ids": [post_id]}})
        return self.answer(200, {"id_str": post_id, "text": text})

    def log_message(self, *args):
        pass


def media_size(content_type, raw):
    """The size of the `media` part of a multipart body, or None when there is none."""
    marker = "boundary="
    if not content_type.startswith("multipart/form-data") or marker not in content_type:
        return None
    boundary = b"--" + content_type.split(marker, 1)[1].strip('"').encode()
    for part in raw.split(boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b'name="media"' in head:
            return len(data[:-2] if data.endswith(b"\r\n") else data)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", required=True,
                        help="consumer_key,consumer_secret,access_token,access_token_secret")
    parser.add_argument("--port-file", required=True, help="where to write the port")
    parser.add_argument("--accept-unsigned", action="store_true",
                        help="also accept requests without Authorization (benchmark baseline)")
    parser.add_argument("--accept-duplicates", action="store_true",
                        help="accept the same post again (a benchmark posts one text many times)")
    args = parser.parse_args()
    keys = args.keys.split(",")
    if len(keys) != 4:
        sys.exit("fake_x_api: --keys needs four comma-separated values")
    Handler.keys = keys
    Handler.accept_unsigned = args.accept_unsigned
    Handler.accept_duplicates = args.accept_duplicates
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    with open(args.port_file, "w") as handle:
        handle.write(str(port))
    print("fake X API listening on http://127.0.0.1:%d (ST2_TWITTER_API_URL)" % port,
          file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
