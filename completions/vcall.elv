
use builtin;
use str;

set edit:completion:arg-completer[vcall] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'vcall'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'vcall'= {
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Run the embedded server: signaling, media forwarding (SFU) and the session API'
            cand session 'Create sessions on a server'
            cand token 'Create tokens (offline, signed with the API secret)'
            cand connect 'Join a session and print its events until Ctrl-C or --duration'
            cand list-streams 'Print the streams in a session and the connection count, then exit'
            cand publish 'Publish a stream: camera and microphone, a test pattern and tone, files or stdin'
            cand subscribe 'Subscribe to streams and record them to files or pipe them to stdout'
            cand moderate 'Moderator actions: force a stream to unpublish or a connection to leave'
            cand echo-test 'Check a server end to end: send the test pattern and tone, get them back, report the round trip (Janus''s EchoTest plugin, or publish-and-subscribe-to-self on a vcall server)'
            cand load-test 'Load a server: many rooms of publishers and subscribers in one process, every frame of every subscribed stream checked (identity, order, loss, latency, freezes)'
            cand config 'The configuration: settings from flags, environment and the profile in the file'
            cand devices 'List cameras and microphones'
            cand demo 'Start a server, publish, subscribe and record a few seconds, all in one process'
            cand report 'Draw a run''s JSON lines as a call report: one self-contained HTML file with plots over time, the --expect verdicts and pictures'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;serve'= {
            cand --listen 'Address for signaling and the HTTP API'
            cand --api-key 'API key [env: VCALL_API_KEY]'
            cand --api-secret 'API secret [env: VCALL_API_SECRET]'
            cand --ice-server 'STUN or TURN server told to clients for their media (repeatable; WHIP/WHEP `Link` headers); `turn:user:pass@host:port` carries credentials. The server''s own candidates are its addresses on the media port, or --public-ip'
            cand --max-connections 'Signaling connections open at once; more are refused with `tooManyConnections`'
            cand --max-connections-per-ip 'Signaling connections open at once from one IP address'
            cand --tls-cert 'Serve HTTPS and WSS (signaling, session API, WHIP/WHEP) with this PEM certificate chain'
            cand --tls-key 'The PEM private key of --tls-cert'
            cand --udp-port 'The one UDP port every client''s media shares (0: any free one)'
            cand --udp-ports 'Take the media port from this range instead, e.g. 40000-40999: the first free one'
            cand --public-ip 'The address media candidates advertise, for a server behind 1:1 NAT (e.g. a cloud VM''s public IP while it listens on its private one)'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one'
            cand --max-subscriber-bitrate 'The most a publisher is asked to send (REMB, k and M suffixes work), like a Janus room''s `bitrate`; publishers are also held to what their slowest subscriber can take'
            cand --publisher-grace 'How long a stream whose publisher''s connection was lost (not left) waits for the publisher to come back and go on in the same subscriptions and recordings; 0 ends it at once'
            cand --impair 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --json '`serving` when it listens and `serverStopped` at the end, as JSON lines (docs/json.md)'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;session'= {
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Ask the server for a new session and print its id'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;session;create'= {
            cand --url 'Server URL [env: VCALL_URL]'
            cand --api-key 'API key [env: VCALL_API_KEY]'
            cand --api-secret 'API secret [env: VCALL_API_SECRET]'
            cand --location-hint 'An IP address hinting where the session''s media should be handled'
            cand --room 'The session of the LiveKit room NAME on `vcall serve` (where LiveKit clients with a token for NAME land), made from the key pair alone: no server is asked'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --p2p 'Peer-to-peer: media directly between the session''s two clients, through the server when that fails'
            cand --json 'Print the whole session as one JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;session;help'= {
            cand create 'Ask the server for a new session and print its id'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;session;help;create'= {
        }
        &'vcall;session;help;help'= {
        }
        &'vcall;token'= {
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Print a token for a session'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;token;create'= {
            cand --session 'The session the token admits to [env: VCALL_SESSION]'
            cand --role 'What the holder may do'
            cand --data 'Token data, visible to the other participants'
            cand --room 'The LiveKit room the token admits to'
            cand --identity 'The participant''s identity in the LiveKit room (unique there)'
            cand --name 'The participant''s display name'
            cand --metadata 'The participant''s metadata, visible to the others'
            cand --expire-in 'Lifetime, e.g. 30m, 24h, 7d'
            cand --api-key 'API key [env: VCALL_API_KEY]'
            cand --api-secret 'API secret [env: VCALL_API_SECRET]'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --livekit 'A LiveKit access token (for LiveKit, OpenVidu 3 or `vcall serve`''s `/rtc`), signed with the same --api-key/--api-secret; needs --room and --identity'
            cand --can-publish 'The participant may publish (given alone: only publish; neither this nor --can-subscribe: both)'
            cand --can-subscribe 'The participant may subscribe (given alone: only subscribe)'
            cand --json 'The token and its claims as one JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;token;help'= {
            cand create 'Print a token for a session'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;token;help;create'= {
        }
        &'vcall;token;help;help'= {
        }
        &'vcall;connect'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]'
            cand --session 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]'
            cand --token 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]'
            cand --data 'Client data, visible to the other participants [env: VCALL_DATA]'
            cand --ice-server 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]'
            cand --ice-transport 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]'
            cand --timeout 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]'
            cand --api-secret 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]'
            cand --pin 'The room''s PIN [env: VCALL_PIN]'
            cand --display 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]'
            cand --max-retries 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]'
            cand --retry-delay 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]'
            cand --keepalive-interval 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]'
            cand --wait-for 'Wait until the session reaches a state, then exit 0: comma-separated conditions on `streams` and `connections` (others than this one), e.g. ''streams>=2, connections>=3''. With --timeout, exit 11 when it is not reached in time'
            cand --duration 'Leave after this long (e.g. 10s); default: until Ctrl-C'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --create-room 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
            cand --json 'One JSON object per line'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;list-streams'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]'
            cand --session 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]'
            cand --token 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]'
            cand --data 'Client data, visible to the other participants [env: VCALL_DATA]'
            cand --ice-server 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]'
            cand --ice-transport 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]'
            cand --timeout 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]'
            cand --api-secret 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]'
            cand --pin 'The room''s PIN [env: VCALL_PIN]'
            cand --display 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]'
            cand --max-retries 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]'
            cand --retry-delay 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]'
            cand --keepalive-interval 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --create-room 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
            cand --json 'One JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;publish'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]'
            cand --session 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]'
            cand --token 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]'
            cand --data 'Client data, visible to the other participants [env: VCALL_DATA]'
            cand --ice-server 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]'
            cand --ice-transport 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]'
            cand --timeout 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]'
            cand --api-secret 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]'
            cand --pin 'The room''s PIN [env: VCALL_PIN]'
            cand --display 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]'
            cand --max-retries 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]'
            cand --retry-delay 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]'
            cand --keepalive-interval 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]'
            cand --impair 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]'
            cand --name 'The stream''s name, visible to others'
            cand --video 'Video source: camera[:INDEX|NAME], testsrc (testsrc:busy: noisy, uses its whole bitrate; testsrc:calm: a mostly still picture, as a camera on a calm scene), a media file (MP4, MOV, MKV, WebM, Ogg, IVF, …: its video; see --transcode), a .y4m file, or - for Y4M on stdin'
            cand --audio 'Audio source: mic[:NAME], tone[:HZ], or a media file (its sound; WAV, MP4, MKV, WebM, Ogg, MP3, FLAC, …)'
            cand --file 'A media file''s video and audio (whichever it has), at its own timing: --video FILE --audio FILE in one'
            cand --transcode 'A media file''s video: auto sends it as it is (no encoding cost) while that serves the far end, and encodes it to H.264 while a keyframe is asked for that the file has not within 200 ms, while the path carries less than the file''s bitrate, before --start''s first keyframe, and always for codecs other than H.264 and VP8 or with B-frames; always encodes it; never sends it as it is (H.264 or VP8 without B-frames)'
            cand --start 'Media files: start this far in (90, 1:30, 1:02:03.5, 500ms)'
            cand --width 'Picture width for camera and testsrc'
            cand --height 'Picture height for camera and testsrc'
            cand --fps 'Frame rate for camera and testsrc'
            cand --video-codec 'The codec video is encoded to: auto offers H.264, VP8 then VP9 and encodes to the one the far end chooses (a VP8-only Janus room gets VP8); h264, vp8 or vp9 offers that one only. A media file sent as it is goes in its own codec'
            cand --simulcast 'Send the video as this many simulcast layers (2 or 3; raw pictures only: the test pattern, a camera, y4m): the full size at --video-bitrate, then half the size at a third of that, then a quarter at a ninth, each its own encoding with its own rid, so that a forwarding server gives each viewer the one its path carries. When the path narrows the largest layer pauses first'
            cand --video-bitrate 'Video bitrate, bits per second (k and M suffixes work)'
            cand --audio-bitrate 'Opus bitrate, bits per second'
            cand --degradation 'What gives way when the picture needs more bits than the path carries (the encoder''s QP says so): balanced halves the frame rate, then the size, alternating; maintain-framerate only the size; maintain-resolution only the frame rate'
            cand --keyframe-interval 'Frames between keyframes (a keyframe is also sent whenever a receiver asks)'
            cand --duration 'Unpublish after this long; default: until Ctrl-C or the end of the sources'
            cand --stats-interval 'Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter, round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at the end; 0: the summary only'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --create-room 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
            cand --no-audio 'Send no audio'
            cand --no-video 'Send no video'
            cand --loop 'Start file sources again at their end (at --start)'
            cand --json 'Events and the result as JSON lines on stdout (docs/json.md)'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;subscribe'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]'
            cand --session 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]'
            cand --token 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]'
            cand --data 'Client data, visible to the other participants [env: VCALL_DATA]'
            cand --ice-server 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]'
            cand --ice-transport 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]'
            cand --timeout 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]'
            cand --api-secret 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]'
            cand --pin 'The room''s PIN [env: VCALL_PIN]'
            cand --display 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]'
            cand --max-retries 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]'
            cand --retry-delay 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]'
            cand --keepalive-interval 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]'
            cand --impair 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]'
            cand --stream 'Stream id or name, or who publishes it (a LiveKit participant''s identity, a Janus display name), to subscribe to (repeatable); default: every stream, including later ones'
            cand -o 'Output file (.mp4 or .mkv: one file with audio and video), or - for stdout with --format'
            cand --output 'Output file (.mp4 or .mkv: one file with audio and video), or - for stdout with --format'
            cand --output-dir 'Record every stream to its own file in this folder, named from its name and id'
            cand --format 'Format on stdout (with -o -) or for --output-dir files (mp4 or mkv by default mp4)'
            cand --layer 'Which layer of a simulcast video stream to receive: auto (the best the path carries, following it), high, mid or low (that layer, whatever the path). Against vcall serve and Janus (its substream: low 0, mid 1, high 2)'
            cand --max-size 'Of a simulcast video stream, no larger layer than a picture of this size needs (e.g. 640x360): the smallest whose sides are both at least 90 % of it, the largest when none is; `auto` stays at or under it. Against vcall serve and LiveKit (the track''s display size, which its server prefers to --layer)'
            cand --duration 'Stop after this much recorded media (e.g. 10s)'
            cand --frames 'Stop after this many video frames'
            cand --expect 'Conditions the received media must meet, checked at the end (exit 11 when one fails or cannot be measured), e.g. ''frames>=300, latency.p95<200ms, freeze.max<500ms, av-skew<40ms, loss<1%''. Metrics: frames, audio-frames, frames.lost, latency.p50, latency.p95, latency.max, freeze.max, av-skew, loss'
            cand --stats-interval 'Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter, round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at the end; 0: the summary only'
            cand --report 'Write a call report when the recording ends, whatever its outcome: one self-contained HTML file with plots over time (bit rate, frame rate, freezes, latency, loss, picture size, A/V offset), the --expect verdicts, and pictures at intervals and around each freeze'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --create-room 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
            cand --no-audio 'Receive no audio'
            cand --no-video 'Receive no video'
            cand --json 'Events and results as JSON lines on stdout (docs/json.md); not with -o -'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;moderate'= {
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand force-unpublish 'Force a stream to stop; its publisher and everyone else see streamDestroyed'
            cand force-disconnect 'Force a connection out of the session'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;moderate;force-unpublish'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]'
            cand --session 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]'
            cand --token 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]'
            cand --data 'Client data, visible to the other participants [env: VCALL_DATA]'
            cand --ice-server 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]'
            cand --ice-transport 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]'
            cand --timeout 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]'
            cand --api-secret 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]'
            cand --pin 'The room''s PIN [env: VCALL_PIN]'
            cand --display 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]'
            cand --max-retries 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]'
            cand --retry-delay 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]'
            cand --keepalive-interval 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]'
            cand --stream 'Stream id or name'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --create-room 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
            cand --json 'The result as one JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;moderate;force-disconnect'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]'
            cand --session 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]'
            cand --token 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]'
            cand --data 'Client data, visible to the other participants [env: VCALL_DATA]'
            cand --ice-server 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]'
            cand --ice-transport 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]'
            cand --timeout 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]'
            cand --api-secret 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]'
            cand --pin 'The room''s PIN [env: VCALL_PIN]'
            cand --display 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]'
            cand --max-retries 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]'
            cand --retry-delay 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]'
            cand --keepalive-interval 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]'
            cand --connection 'Connection id'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --create-room 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
            cand --json 'The result as one JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;moderate;help'= {
            cand force-unpublish 'Force a stream to stop; its publisher and everyone else see streamDestroyed'
            cand force-disconnect 'Force a connection out of the session'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;moderate;help;force-unpublish'= {
        }
        &'vcall;moderate;help;force-disconnect'= {
        }
        &'vcall;moderate;help;help'= {
        }
        &'vcall;echo-test'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]'
            cand --session 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]'
            cand --token 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]'
            cand --data 'Client data, visible to the other participants [env: VCALL_DATA]'
            cand --ice-server 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]'
            cand --ice-transport 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]'
            cand --timeout 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]'
            cand --api-secret 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]'
            cand --pin 'The room''s PIN [env: VCALL_PIN]'
            cand --display 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]'
            cand --max-retries 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]'
            cand --retry-delay 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]'
            cand --keepalive-interval 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]'
            cand --impair 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]'
            cand --duration 'How long to send'
            cand --frames 'Send this many video frames once the way back is up (and the tone alongside), instead of for a duration, then wait for the last of them to come back: what was lost is then exact'
            cand -o 'Also record what came back (.mp4 or .mkv)'
            cand --output 'Also record what came back (.mp4 or .mkv)'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --create-room 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
            cand --json 'The result as one JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;load-test'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall serve: sessions and tokens are made from the API key pair), livekit+ws(s)://… (LiveKit, OpenVidu 3: LiveKit tokens from the key pair) or janus+ws(s)://…, janus+http(s)://… (a VideoRoom room per room, created when missing), or a WHIP endpoint for the publishers, whip+http(s)://…, as a template: {room} is the room (with a key pair, the vcall serve session made for it), {publisher} the publisher''s stream name (needed with more than one publisher a room), e.g. ''whip+http://HOST:7880/whip/{room}?name={publisher}'' [env: VCALL_URL]'
            cand --api-key 'API key [env: VCALL_API_KEY]'
            cand --api-secret 'API secret [env: VCALL_API_SECRET]'
            cand --whep-url 'The WHEP endpoint subscribers play each publisher from, when --url is a WHIP one: a template with {room} and {publisher} as --url''s, e.g. ''whep+http://HOST:7880/whep/{room}/{publisher}'''
            cand --token 'Janus''s API token, or the bearer token of WHIP/WHEP endpoints without a key pair [env: VCALL_TOKEN]'
            cand --impair 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]'
            cand --rooms 'Rooms (sessions), each with its own publishers and subscribers'
            cand --publishers 'Publishers per room: at most 1,000, or 100,000 that come and go (--publish-for)'
            cand --subscribers 'Subscribers per room; each receives every publisher of its room'
            cand --join-rate 'How many participants join per second (publishers first, then subscribers; the other way round with --publish-for), e.g. 20/s'
            cand --duration 'How long the run lasts once every participant has joined (or failed to), e.g. 60s'
            cand --publish-for 'How long each publisher publishes before it leaves, e.g. 2s (default: until the run ends). A room''s publishers then come and go, the next joining at the join rate (subscribers join first, so that they see every one), as in rooms where people drop in and out: every stream set up, received and torn down'
            cand --width 'Video picture size and rate: one encoder for every publisher, each publisher''s frames marked as its own'
            cand --height 'height'
            cand --fps 'fps'
            cand --video-bitrate 'Video bitrate (e.g. 300k)'
            cand --rate-tiers 'Rate tiers the shared encoders make (the bitrate, half of it, a quarter…); each publisher sends the highest its connection''s send estimate carries, stepping down at once and back up after a quiet hold, as congestion control does. 1: a fixed rate'
            cand --decode 'The share of subscribed streams whose video is also decoded, each picture''s burned-in capture time checked against its frame''s mark (the rest are checked from the marks alone); spread over the run, the first stream always when above 0%'
            cand --audio 'Audio every publisher sends: the test tone, or none'
            cand --expect 'Conditions over the whole run, checked at the end (exit 11 when one fails), e.g. ''joined==100%, streams.frames.lost==0, latency.p95<200ms, freeze.max.p99<500ms, first-frame.p95<1s, identity''. Metrics: joined, streams, streams.frames, streams.frames.lost, loss, latency.p50/p95/p99/max (every frame of every stream), freeze.max.p50/p95/p99/max and first-frame.p50/p95/p99/max (across streams), identity (no stream carried another publisher''s frames), pictures.decoded and pictures.bad (of the streams --decode samples)'
            cand --stats-interval 'Figures this often on stderr (`loadStats` lines with --json); 0: only the summary'
            cand --report 'Write a report when the run ends, whatever its outcome: one self-contained HTML file with the verdict and totals, plots over time (participants, streams, frames received and lost, latency, freezes, loss) and the worst rooms and streams (as `vcall report` draws from the --json lines)'
            cand --generator-cpu-limit 'The share of this machine''s cores the generator may use before it, not the server, is taken to be the limit of the run (exit 12), e.g. 50%'
            cand --shard 'Run this share of the run: the Ith of N processes (from 0, as a Kubernetes Indexed Job''s JOB_COMPLETION_INDEX), each taking every Nth participant; every shard is given the same flags, and `load-test merge` judges their --json outputs as one run [env: VCALL_SHARD]'
            cand --start-at 'Start joining at this Unix time (seconds), so that shards started apart run together'
            cand --run-id 'The run''s name, which its rooms and streams are named after (default: random; with --shard, made from the flags, so that every shard agrees)'
            cand --generator-lag-limit 'How late the generator''s timers and encoders may run (p99) before it, not the server, is taken to be the limit of the run (exit 12)'
            cand --timeout 'Stop waiting for a join, a publish or a subscription after this long'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --json 'Results as JSON lines on stdout: per interval, the summary, and each stream with --per-stream'
            cand --per-stream 'Each stream''s figures in the summary (a `loadStream` line each with --json)'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand merge 'Judge the --json outputs of a run''s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards'')'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;load-test;merge'= {
            cand --expect 'Conditions over the whole run, as for a run (exit 11 when one fails)'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --json 'The merged summary as a JSON line on stdout'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;load-test;help'= {
            cand merge 'Judge the --json outputs of a run''s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards'')'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;load-test;help;merge'= {
        }
        &'vcall;load-test;help;help'= {
        }
        &'vcall;config'= {
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Print the resolved connection settings and where each comes from (secrets masked)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;config;show'= {
            cand --url 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]'
            cand --session 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]'
            cand --token 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]'
            cand --data 'Client data, visible to the other participants [env: VCALL_DATA]'
            cand --ice-server 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]'
            cand --ice-transport 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]'
            cand --dtls-certificate 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]'
            cand --timeout 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]'
            cand --api-secret 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]'
            cand --pin 'The room''s PIN [env: VCALL_PIN]'
            cand --display 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]'
            cand --max-retries 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]'
            cand --retry-delay 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]'
            cand --keepalive-interval 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]'
            cand --api-key 'API key, for the commands that sign tokens [env: VCALL_API_KEY]'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --create-room 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
            cand --json 'One JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;config;help'= {
            cand show 'Print the resolved connection settings and where each comes from (secrets masked)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;config;help;show'= {
        }
        &'vcall;config;help;help'= {
        }
        &'vcall;devices'= {
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --json 'One JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;demo'= {
            cand --duration 'How much to record'
            cand -o 'The recording'
            cand --output 'The recording'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand --json 'The report as one JSON object'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;report'= {
            cand -o 'Where the report goes: one self-contained HTML file'
            cand --output 'Where the report goes: one self-contained HTML file'
            cand --profile 'The settings profile to use from the configuration file [env: VCALL_PROFILE]'
            cand --config 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]'
            cand -v 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand --verbose 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress display'
            cand --quiet 'Only errors on stderr; no progress display'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcall;help'= {
            cand serve 'Run the embedded server: signaling, media forwarding (SFU) and the session API'
            cand session 'Create sessions on a server'
            cand token 'Create tokens (offline, signed with the API secret)'
            cand connect 'Join a session and print its events until Ctrl-C or --duration'
            cand list-streams 'Print the streams in a session and the connection count, then exit'
            cand publish 'Publish a stream: camera and microphone, a test pattern and tone, files or stdin'
            cand subscribe 'Subscribe to streams and record them to files or pipe them to stdout'
            cand moderate 'Moderator actions: force a stream to unpublish or a connection to leave'
            cand echo-test 'Check a server end to end: send the test pattern and tone, get them back, report the round trip (Janus''s EchoTest plugin, or publish-and-subscribe-to-self on a vcall server)'
            cand load-test 'Load a server: many rooms of publishers and subscribers in one process, every frame of every subscribed stream checked (identity, order, loss, latency, freezes)'
            cand config 'The configuration: settings from flags, environment and the profile in the file'
            cand devices 'List cameras and microphones'
            cand demo 'Start a server, publish, subscribe and record a few seconds, all in one process'
            cand report 'Draw a run''s JSON lines as a call report: one self-contained HTML file with plots over time, the --expect verdicts and pictures'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcall;help;serve'= {
        }
        &'vcall;help;session'= {
            cand create 'Ask the server for a new session and print its id'
        }
        &'vcall;help;session;create'= {
        }
        &'vcall;help;token'= {
            cand create 'Print a token for a session'
        }
        &'vcall;help;token;create'= {
        }
        &'vcall;help;connect'= {
        }
        &'vcall;help;list-streams'= {
        }
        &'vcall;help;publish'= {
        }
        &'vcall;help;subscribe'= {
        }
        &'vcall;help;moderate'= {
            cand force-unpublish 'Force a stream to stop; its publisher and everyone else see streamDestroyed'
            cand force-disconnect 'Force a connection out of the session'
        }
        &'vcall;help;moderate;force-unpublish'= {
        }
        &'vcall;help;moderate;force-disconnect'= {
        }
        &'vcall;help;echo-test'= {
        }
        &'vcall;help;load-test'= {
            cand merge 'Judge the --json outputs of a run''s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards'')'
        }
        &'vcall;help;load-test;merge'= {
        }
        &'vcall;help;config'= {
            cand show 'Print the resolved connection settings and where each comes from (secrets masked)'
        }
        &'vcall;help;config;show'= {
        }
        &'vcall;help;devices'= {
        }
        &'vcall;help;demo'= {
        }
        &'vcall;help;report'= {
        }
        &'vcall;help;help'= {
        }
    ]
    $completions[$command]
}
