
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'vcall' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'vcall'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'vcall' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the embedded server: signaling, media forwarding (SFU) and the session API')
            [CompletionResult]::new('session', 'session', [CompletionResultType]::ParameterValue, 'Create sessions on a server')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Create tokens (offline, signed with the API secret)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Join a session and print its events until Ctrl-C or --duration')
            [CompletionResult]::new('list-streams', 'list-streams', [CompletionResultType]::ParameterValue, 'Print the streams in a session and the connection count, then exit')
            [CompletionResult]::new('publish', 'publish', [CompletionResultType]::ParameterValue, 'Publish a stream: camera and microphone, a test pattern and tone, files or stdin')
            [CompletionResult]::new('subscribe', 'subscribe', [CompletionResultType]::ParameterValue, 'Subscribe to streams and record them to files or pipe them to stdout')
            [CompletionResult]::new('moderate', 'moderate', [CompletionResultType]::ParameterValue, 'Moderator actions: force a stream to unpublish or a connection to leave')
            [CompletionResult]::new('echo-test', 'echo-test', [CompletionResultType]::ParameterValue, 'Check a server end to end: send the test pattern and tone, get them back, report the round trip (Janus''s EchoTest plugin, or publish-and-subscribe-to-self on a vcall server)')
            [CompletionResult]::new('load-test', 'load-test', [CompletionResultType]::ParameterValue, 'Load a server: many rooms of publishers and subscribers in one process, every frame of every subscribed stream checked (identity, order, loss, latency, freezes)')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'The configuration: settings from flags, environment and the profile in the file')
            [CompletionResult]::new('devices', 'devices', [CompletionResultType]::ParameterValue, 'List cameras and microphones')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Start a server, publish, subscribe and record a few seconds, all in one process')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Draw a run''s JSON lines as a call report: one self-contained HTML file with plots over time, the --expect verdicts and pictures')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address for signaling and the HTTP API')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'API key [env: VCALL_API_KEY]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'API secret [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server told to clients for their media (repeatable; WHIP/WHEP `Link` headers); `turn:user:pass@host:port` carries credentials. The server''s own candidates are its addresses on the media port, or --public-ip')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Signaling connections open at once; more are refused with `tooManyConnections`')
            [CompletionResult]::new('--max-connections-per-ip', '--max-connections-per-ip', [CompletionResultType]::ParameterName, 'Signaling connections open at once from one IP address')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Serve HTTPS and WSS (signaling, session API, WHIP/WHEP) with this PEM certificate chain')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'The PEM private key of --tls-cert')
            [CompletionResult]::new('--udp-port', '--udp-port', [CompletionResultType]::ParameterName, 'The one UDP port every client''s media shares (0: any free one)')
            [CompletionResult]::new('--udp-ports', '--udp-ports', [CompletionResultType]::ParameterName, 'Take the media port from this range instead, e.g. 40000-40999: the first free one')
            [CompletionResult]::new('--public-ip', '--public-ip', [CompletionResultType]::ParameterName, 'The address media candidates advertise, for a server behind 1:1 NAT (e.g. a cloud VM''s public IP while it listens on its private one)')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one')
            [CompletionResult]::new('--max-subscriber-bitrate', '--max-subscriber-bitrate', [CompletionResultType]::ParameterName, 'The most a publisher is asked to send (REMB, k and M suffixes work), like a Janus room''s `bitrate`; publishers are also held to what their slowest subscriber can take')
            [CompletionResult]::new('--publisher-grace', '--publisher-grace', [CompletionResultType]::ParameterName, 'How long a stream whose publisher''s connection was lost (not left) waits for the publisher to come back and go on in the same subscriptions and recordings; 0 ends it at once')
            [CompletionResult]::new('--impair', '--impair', [CompletionResultType]::ParameterName, 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, '`serving` when it listens and `serverStopped` at the end, as JSON lines (docs/json.md)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;session' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Ask the server for a new session and print its id')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;session;create' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL [env: VCALL_URL]')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'API key [env: VCALL_API_KEY]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'API secret [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--location-hint', '--location-hint', [CompletionResultType]::ParameterName, 'An IP address hinting where the session''s media should be handled')
            [CompletionResult]::new('--room', '--room', [CompletionResultType]::ParameterName, 'The session of the LiveKit room NAME on `vcall serve` (where LiveKit clients with a token for NAME land), made from the key pair alone: no server is asked')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--p2p', '--p2p', [CompletionResultType]::ParameterName, 'Peer-to-peer: media directly between the session''s two clients, through the server when that fails')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the whole session as one JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;session;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Ask the server for a new session and print its id')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;session;help;create' {
            break
        }
        'vcall;session;help;help' {
            break
        }
        'vcall;token' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Print a token for a session')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;token;create' {
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'The session the token admits to [env: VCALL_SESSION]')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'What the holder may do')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Token data, visible to the other participants')
            [CompletionResult]::new('--room', '--room', [CompletionResultType]::ParameterName, 'The LiveKit room the token admits to')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'The participant''s identity in the LiveKit room (unique there)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The participant''s display name')
            [CompletionResult]::new('--metadata', '--metadata', [CompletionResultType]::ParameterName, 'The participant''s metadata, visible to the others')
            [CompletionResult]::new('--expire-in', '--expire-in', [CompletionResultType]::ParameterName, 'Lifetime, e.g. 30m, 24h, 7d')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'API key [env: VCALL_API_KEY]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'API secret [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--livekit', '--livekit', [CompletionResultType]::ParameterName, 'A LiveKit access token (for LiveKit, OpenVidu 3 or `vcall serve`''s `/rtc`), signed with the same --api-key/--api-secret; needs --room and --identity')
            [CompletionResult]::new('--can-publish', '--can-publish', [CompletionResultType]::ParameterName, 'The participant may publish (given alone: only publish; neither this nor --can-subscribe: both)')
            [CompletionResult]::new('--can-subscribe', '--can-subscribe', [CompletionResultType]::ParameterName, 'The participant may subscribe (given alone: only subscribe)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The token and its claims as one JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;token;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Print a token for a session')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;token;help;create' {
            break
        }
        'vcall;token;help;help' {
            break
        }
        'vcall;connect' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Client data, visible to the other participants [env: VCALL_DATA]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]')
            [CompletionResult]::new('--ice-transport', '--ice-transport', [CompletionResultType]::ParameterName, 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'The room''s PIN [env: VCALL_PIN]')
            [CompletionResult]::new('--display', '--display', [CompletionResultType]::ParameterName, 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]')
            [CompletionResult]::new('--keepalive-interval', '--keepalive-interval', [CompletionResultType]::ParameterName, 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]')
            [CompletionResult]::new('--wait-for', '--wait-for', [CompletionResultType]::ParameterName, 'Wait until the session reaches a state, then exit 0: comma-separated conditions on `streams` and `connections` (others than this one), e.g. ''streams>=2, connections>=3''. With --timeout, exit 11 when it is not reached in time')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Leave after this long (e.g. 10s); default: until Ctrl-C')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--create-room', '--create-room', [CompletionResultType]::ParameterName, 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;list-streams' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Client data, visible to the other participants [env: VCALL_DATA]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]')
            [CompletionResult]::new('--ice-transport', '--ice-transport', [CompletionResultType]::ParameterName, 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'The room''s PIN [env: VCALL_PIN]')
            [CompletionResult]::new('--display', '--display', [CompletionResultType]::ParameterName, 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]')
            [CompletionResult]::new('--keepalive-interval', '--keepalive-interval', [CompletionResultType]::ParameterName, 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--create-room', '--create-room', [CompletionResultType]::ParameterName, 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;publish' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Client data, visible to the other participants [env: VCALL_DATA]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]')
            [CompletionResult]::new('--ice-transport', '--ice-transport', [CompletionResultType]::ParameterName, 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'The room''s PIN [env: VCALL_PIN]')
            [CompletionResult]::new('--display', '--display', [CompletionResultType]::ParameterName, 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]')
            [CompletionResult]::new('--keepalive-interval', '--keepalive-interval', [CompletionResultType]::ParameterName, 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]')
            [CompletionResult]::new('--impair', '--impair', [CompletionResultType]::ParameterName, 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The stream''s name, visible to others')
            [CompletionResult]::new('--video', '--video', [CompletionResultType]::ParameterName, 'Video source: camera[:INDEX|NAME], testsrc (testsrc:busy: noisy, uses its whole bitrate; testsrc:calm: a mostly still picture, as a camera on a calm scene), a media file (MP4, MOV, MKV, WebM, Ogg, IVF, …: its video; see --transcode), a .y4m file, or - for Y4M on stdin')
            [CompletionResult]::new('--audio', '--audio', [CompletionResultType]::ParameterName, 'Audio source: mic[:NAME], tone[:HZ], or a media file (its sound; WAV, MP4, MKV, WebM, Ogg, MP3, FLAC, …)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'A media file''s video and audio (whichever it has), at its own timing: --video FILE --audio FILE in one')
            [CompletionResult]::new('--transcode', '--transcode', [CompletionResultType]::ParameterName, 'A media file''s video: auto sends it as it is (no encoding cost) while that serves the far end, and encodes it to H.264 while a keyframe is asked for that the file has not within 200 ms, while the path carries less than the file''s bitrate, before --start''s first keyframe, and always for codecs other than H.264 and VP8 or with B-frames; always encodes it; never sends it as it is (H.264 or VP8 without B-frames)')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Media files: start this far in (90, 1:30, 1:02:03.5, 500ms)')
            [CompletionResult]::new('--width', '--width', [CompletionResultType]::ParameterName, 'Picture width for camera and testsrc')
            [CompletionResult]::new('--height', '--height', [CompletionResultType]::ParameterName, 'Picture height for camera and testsrc')
            [CompletionResult]::new('--fps', '--fps', [CompletionResultType]::ParameterName, 'Frame rate for camera and testsrc')
            [CompletionResult]::new('--video-codec', '--video-codec', [CompletionResultType]::ParameterName, 'The codec video is encoded to: auto offers H.264, VP8 then VP9 and encodes to the one the far end chooses (a VP8-only Janus room gets VP8); h264, vp8 or vp9 offers that one only. A media file sent as it is goes in its own codec')
            [CompletionResult]::new('--simulcast', '--simulcast', [CompletionResultType]::ParameterName, 'Send the video as this many simulcast layers (2 or 3; raw pictures only: the test pattern, a camera, y4m): the full size at --video-bitrate, then half the size at a third of that, then a quarter at a ninth, each its own encoding with its own rid, so that a forwarding server gives each viewer the one its path carries. When the path narrows the largest layer pauses first')
            [CompletionResult]::new('--video-bitrate', '--video-bitrate', [CompletionResultType]::ParameterName, 'Video bitrate, bits per second (k and M suffixes work)')
            [CompletionResult]::new('--audio-bitrate', '--audio-bitrate', [CompletionResultType]::ParameterName, 'Opus bitrate, bits per second')
            [CompletionResult]::new('--degradation', '--degradation', [CompletionResultType]::ParameterName, 'What gives way when the picture needs more bits than the path carries (the encoder''s QP says so): balanced halves the frame rate, then the size, alternating; maintain-framerate only the size; maintain-resolution only the frame rate')
            [CompletionResult]::new('--keyframe-interval', '--keyframe-interval', [CompletionResultType]::ParameterName, 'Frames between keyframes (a keyframe is also sent whenever a receiver asks)')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Unpublish after this long; default: until Ctrl-C or the end of the sources')
            [CompletionResult]::new('--stats-interval', '--stats-interval', [CompletionResultType]::ParameterName, 'Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter, round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at the end; 0: the summary only')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--create-room', '--create-room', [CompletionResultType]::ParameterName, 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]')
            [CompletionResult]::new('--no-audio', '--no-audio', [CompletionResultType]::ParameterName, 'Send no audio')
            [CompletionResult]::new('--no-video', '--no-video', [CompletionResultType]::ParameterName, 'Send no video')
            [CompletionResult]::new('--loop', '--loop', [CompletionResultType]::ParameterName, 'Start file sources again at their end (at --start)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Events and the result as JSON lines on stdout (docs/json.md)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;subscribe' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Client data, visible to the other participants [env: VCALL_DATA]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]')
            [CompletionResult]::new('--ice-transport', '--ice-transport', [CompletionResultType]::ParameterName, 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'The room''s PIN [env: VCALL_PIN]')
            [CompletionResult]::new('--display', '--display', [CompletionResultType]::ParameterName, 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]')
            [CompletionResult]::new('--keepalive-interval', '--keepalive-interval', [CompletionResultType]::ParameterName, 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]')
            [CompletionResult]::new('--impair', '--impair', [CompletionResultType]::ParameterName, 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]')
            [CompletionResult]::new('--stream', '--stream', [CompletionResultType]::ParameterName, 'Stream id or name, or who publishes it (a LiveKit participant''s identity, a Janus display name), to subscribe to (repeatable); default: every stream, including later ones')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output file (.mp4 or .mkv: one file with audio and video), or - for stdout with --format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output file (.mp4 or .mkv: one file with audio and video), or - for stdout with --format')
            [CompletionResult]::new('--output-dir', '--output-dir', [CompletionResultType]::ParameterName, 'Record every stream to its own file in this folder, named from its name and id')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Format on stdout (with -o -) or for --output-dir files (mp4 or mkv by default mp4)')
            [CompletionResult]::new('--layer', '--layer', [CompletionResultType]::ParameterName, 'Which layer of a simulcast video stream to receive: auto (the best the path carries, following it), high, mid or low (that layer, whatever the path). Against vcall serve and Janus (its substream: low 0, mid 1, high 2)')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Of a simulcast video stream, no larger layer than a picture of this size needs (e.g. 640x360): the smallest whose sides are both at least 90 % of it, the largest when none is; `auto` stays at or under it. Against vcall serve and LiveKit (the track''s display size, which its server prefers to --layer)')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Stop after this much recorded media (e.g. 10s)')
            [CompletionResult]::new('--frames', '--frames', [CompletionResultType]::ParameterName, 'Stop after this many video frames')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'Conditions the received media must meet, checked at the end (exit 11 when one fails or cannot be measured), e.g. ''frames>=300, latency.p95<200ms, freeze.max<500ms, av-skew<40ms, loss<1%''. Metrics: frames, audio-frames, frames.lost, latency.p50, latency.p95, latency.max, freeze.max, av-skew, loss')
            [CompletionResult]::new('--stats-interval', '--stats-interval', [CompletionResultType]::ParameterName, 'Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter, round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at the end; 0: the summary only')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write a call report when the recording ends, whatever its outcome: one self-contained HTML file with plots over time (bit rate, frame rate, freezes, latency, loss, picture size, A/V offset), the --expect verdicts, and pictures at intervals and around each freeze')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--create-room', '--create-room', [CompletionResultType]::ParameterName, 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]')
            [CompletionResult]::new('--no-audio', '--no-audio', [CompletionResultType]::ParameterName, 'Receive no audio')
            [CompletionResult]::new('--no-video', '--no-video', [CompletionResultType]::ParameterName, 'Receive no video')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Events and results as JSON lines on stdout (docs/json.md); not with -o -')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;moderate' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('force-unpublish', 'force-unpublish', [CompletionResultType]::ParameterValue, 'Force a stream to stop; its publisher and everyone else see streamDestroyed')
            [CompletionResult]::new('force-disconnect', 'force-disconnect', [CompletionResultType]::ParameterValue, 'Force a connection out of the session')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;moderate;force-unpublish' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Client data, visible to the other participants [env: VCALL_DATA]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]')
            [CompletionResult]::new('--ice-transport', '--ice-transport', [CompletionResultType]::ParameterName, 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'The room''s PIN [env: VCALL_PIN]')
            [CompletionResult]::new('--display', '--display', [CompletionResultType]::ParameterName, 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]')
            [CompletionResult]::new('--keepalive-interval', '--keepalive-interval', [CompletionResultType]::ParameterName, 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]')
            [CompletionResult]::new('--stream', '--stream', [CompletionResultType]::ParameterName, 'Stream id or name')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--create-room', '--create-room', [CompletionResultType]::ParameterName, 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The result as one JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;moderate;force-disconnect' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Client data, visible to the other participants [env: VCALL_DATA]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]')
            [CompletionResult]::new('--ice-transport', '--ice-transport', [CompletionResultType]::ParameterName, 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'The room''s PIN [env: VCALL_PIN]')
            [CompletionResult]::new('--display', '--display', [CompletionResultType]::ParameterName, 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]')
            [CompletionResult]::new('--keepalive-interval', '--keepalive-interval', [CompletionResultType]::ParameterName, 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'Connection id')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--create-room', '--create-room', [CompletionResultType]::ParameterName, 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The result as one JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;moderate;help' {
            [CompletionResult]::new('force-unpublish', 'force-unpublish', [CompletionResultType]::ParameterValue, 'Force a stream to stop; its publisher and everyone else see streamDestroyed')
            [CompletionResult]::new('force-disconnect', 'force-disconnect', [CompletionResultType]::ParameterValue, 'Force a connection out of the session')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;moderate;help;force-unpublish' {
            break
        }
        'vcall;moderate;help;force-disconnect' {
            break
        }
        'vcall;moderate;help;help' {
            break
        }
        'vcall;echo-test' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Client data, visible to the other participants [env: VCALL_DATA]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]')
            [CompletionResult]::new('--ice-transport', '--ice-transport', [CompletionResultType]::ParameterName, 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'The room''s PIN [env: VCALL_PIN]')
            [CompletionResult]::new('--display', '--display', [CompletionResultType]::ParameterName, 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]')
            [CompletionResult]::new('--keepalive-interval', '--keepalive-interval', [CompletionResultType]::ParameterName, 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]')
            [CompletionResult]::new('--impair', '--impair', [CompletionResultType]::ParameterName, 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'How long to send')
            [CompletionResult]::new('--frames', '--frames', [CompletionResultType]::ParameterName, 'Send this many video frames once the way back is up (and the tone alongside), instead of for a duration, then wait for the last of them to come back: what was lost is then exact')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Also record what came back (.mp4 or .mkv)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Also record what came back (.mp4 or .mkv)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--create-room', '--create-room', [CompletionResultType]::ParameterName, 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The result as one JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;load-test' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall serve: sessions and tokens are made from the API key pair), livekit+ws(s)://… (LiveKit, OpenVidu 3: LiveKit tokens from the key pair) or janus+ws(s)://…, janus+http(s)://… (a VideoRoom room per room, created when missing), or a WHIP endpoint for the publishers, whip+http(s)://…, as a template: {room} is the room (with a key pair, the vcall serve session made for it), {publisher} the publisher''s stream name (needed with more than one publisher a room), e.g. ''whip+http://HOST:7880/whip/{room}?name={publisher}'' [env: VCALL_URL]')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'API key [env: VCALL_API_KEY]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'API secret [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--whep-url', '--whep-url', [CompletionResultType]::ParameterName, 'The WHEP endpoint subscribers play each publisher from, when --url is a WHIP one: a template with {room} and {publisher} as --url''s, e.g. ''whep+http://HOST:7880/whep/{room}/{publisher}''')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Janus''s API token, or the bearer token of WHIP/WHEP endpoints without a key pair [env: VCALL_TOKEN]')
            [CompletionResult]::new('--impair', '--impair', [CompletionResultType]::ParameterName, 'Impair this process''s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate''s queue), rebind=10s (the media sockets move to new ports then, as a NAT''s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]')
            [CompletionResult]::new('--rooms', '--rooms', [CompletionResultType]::ParameterName, 'Rooms (sessions), each with its own publishers and subscribers')
            [CompletionResult]::new('--publishers', '--publishers', [CompletionResultType]::ParameterName, 'Publishers per room: at most 1,000, or 100,000 that come and go (--publish-for)')
            [CompletionResult]::new('--subscribers', '--subscribers', [CompletionResultType]::ParameterName, 'Subscribers per room; each receives every publisher of its room')
            [CompletionResult]::new('--join-rate', '--join-rate', [CompletionResultType]::ParameterName, 'How many participants join per second (publishers first, then subscribers; the other way round with --publish-for), e.g. 20/s')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'How long the run lasts once every participant has joined (or failed to), e.g. 60s')
            [CompletionResult]::new('--publish-for', '--publish-for', [CompletionResultType]::ParameterName, 'How long each publisher publishes before it leaves, e.g. 2s (default: until the run ends). A room''s publishers then come and go, the next joining at the join rate (subscribers join first, so that they see every one), as in rooms where people drop in and out: every stream set up, received and torn down')
            [CompletionResult]::new('--width', '--width', [CompletionResultType]::ParameterName, 'Video picture size and rate: one encoder for every publisher, each publisher''s frames marked as its own')
            [CompletionResult]::new('--height', '--height', [CompletionResultType]::ParameterName, 'height')
            [CompletionResult]::new('--fps', '--fps', [CompletionResultType]::ParameterName, 'fps')
            [CompletionResult]::new('--video-bitrate', '--video-bitrate', [CompletionResultType]::ParameterName, 'Video bitrate (e.g. 300k)')
            [CompletionResult]::new('--rate-tiers', '--rate-tiers', [CompletionResultType]::ParameterName, 'Rate tiers the shared encoders make (the bitrate, half of it, a quarter…); each publisher sends the highest its connection''s send estimate carries, stepping down at once and back up after a quiet hold, as congestion control does. 1: a fixed rate')
            [CompletionResult]::new('--decode', '--decode', [CompletionResultType]::ParameterName, 'The share of subscribed streams whose video is also decoded, each picture''s burned-in capture time checked against its frame''s mark (the rest are checked from the marks alone); spread over the run, the first stream always when above 0%')
            [CompletionResult]::new('--audio', '--audio', [CompletionResultType]::ParameterName, 'Audio every publisher sends: the test tone, or none')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'Conditions over the whole run, checked at the end (exit 11 when one fails), e.g. ''joined==100%, streams.frames.lost==0, latency.p95<200ms, freeze.max.p99<500ms, first-frame.p95<1s, identity''. Metrics: joined, streams, streams.frames, streams.frames.lost, loss, latency.p50/p95/p99/max (every frame of every stream), freeze.max.p50/p95/p99/max and first-frame.p50/p95/p99/max (across streams), identity (no stream carried another publisher''s frames), pictures.decoded and pictures.bad (of the streams --decode samples)')
            [CompletionResult]::new('--stats-interval', '--stats-interval', [CompletionResultType]::ParameterName, 'Figures this often on stderr (`loadStats` lines with --json); 0: only the summary')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write a report when the run ends, whatever its outcome: one self-contained HTML file with the verdict and totals, plots over time (participants, streams, frames received and lost, latency, freezes, loss) and the worst rooms and streams (as `vcall report` draws from the --json lines)')
            [CompletionResult]::new('--generator-cpu-limit', '--generator-cpu-limit', [CompletionResultType]::ParameterName, 'The share of this machine''s cores the generator may use before it, not the server, is taken to be the limit of the run (exit 12), e.g. 50%')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run this share of the run: the Ith of N processes (from 0, as a Kubernetes Indexed Job''s JOB_COMPLETION_INDEX), each taking every Nth participant; every shard is given the same flags, and `load-test merge` judges their --json outputs as one run [env: VCALL_SHARD]')
            [CompletionResult]::new('--start-at', '--start-at', [CompletionResultType]::ParameterName, 'Start joining at this Unix time (seconds), so that shards started apart run together')
            [CompletionResult]::new('--run-id', '--run-id', [CompletionResultType]::ParameterName, 'The run''s name, which its rooms and streams are named after (default: random; with --shard, made from the flags, so that every shard agrees)')
            [CompletionResult]::new('--generator-lag-limit', '--generator-lag-limit', [CompletionResultType]::ParameterName, 'How late the generator''s timers and encoders may run (p99) before it, not the server, is taken to be the limit of the run (exit 12)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Stop waiting for a join, a publish or a subscription after this long')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Results as JSON lines on stdout: per interval, the summary, and each stream with --per-stream')
            [CompletionResult]::new('--per-stream', '--per-stream', [CompletionResultType]::ParameterName, 'Each stream''s figures in the summary (a `loadStream` line each with --json)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Judge the --json outputs of a run''s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards'')')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;load-test;merge' {
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'Conditions over the whole run, as for a run (exit 11 when one fails)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The merged summary as a JSON line on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;load-test;help' {
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Judge the --json outputs of a run''s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards'')')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;load-test;help;merge' {
            break
        }
        'vcall;load-test;help;help' {
            break
        }
        'vcall;config' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the resolved connection settings and where each comes from (secrets masked)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;config;show' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token''s) [env: VCALL_URL]')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Client data, visible to the other participants [env: VCALL_DATA]')
            [CompletionResult]::new('--ice-server', '--ice-server', [CompletionResultType]::ParameterName, 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]')
            [CompletionResult]::new('--ice-transport', '--ice-transport', [CompletionResultType]::ParameterName, 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]')
            [CompletionResult]::new('--dtls-certificate', '--dtls-certificate', [CompletionResultType]::ParameterName, 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]')
            [CompletionResult]::new('--api-secret', '--api-secret', [CompletionResultType]::ParameterName, 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'The room''s PIN [env: VCALL_PIN]')
            [CompletionResult]::new('--display', '--display', [CompletionResultType]::ParameterName, 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]')
            [CompletionResult]::new('--keepalive-interval', '--keepalive-interval', [CompletionResultType]::ParameterName, 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'API key, for the commands that sign tokens [env: VCALL_API_KEY]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--create-room', '--create-room', [CompletionResultType]::ParameterName, 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;config;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the resolved connection settings and where each comes from (secrets masked)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;config;help;show' {
            break
        }
        'vcall;config;help;help' {
            break
        }
        'vcall;devices' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;demo' {
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'How much to record')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'The recording')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'The recording')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The report as one JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;report' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where the report goes: one self-contained HTML file')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where the report goes: one self-contained HTML file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The settings profile to use from the configuration file [env: VCALL_PROFILE]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress display')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcall;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the embedded server: signaling, media forwarding (SFU) and the session API')
            [CompletionResult]::new('session', 'session', [CompletionResultType]::ParameterValue, 'Create sessions on a server')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Create tokens (offline, signed with the API secret)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Join a session and print its events until Ctrl-C or --duration')
            [CompletionResult]::new('list-streams', 'list-streams', [CompletionResultType]::ParameterValue, 'Print the streams in a session and the connection count, then exit')
            [CompletionResult]::new('publish', 'publish', [CompletionResultType]::ParameterValue, 'Publish a stream: camera and microphone, a test pattern and tone, files or stdin')
            [CompletionResult]::new('subscribe', 'subscribe', [CompletionResultType]::ParameterValue, 'Subscribe to streams and record them to files or pipe them to stdout')
            [CompletionResult]::new('moderate', 'moderate', [CompletionResultType]::ParameterValue, 'Moderator actions: force a stream to unpublish or a connection to leave')
            [CompletionResult]::new('echo-test', 'echo-test', [CompletionResultType]::ParameterValue, 'Check a server end to end: send the test pattern and tone, get them back, report the round trip (Janus''s EchoTest plugin, or publish-and-subscribe-to-self on a vcall server)')
            [CompletionResult]::new('load-test', 'load-test', [CompletionResultType]::ParameterValue, 'Load a server: many rooms of publishers and subscribers in one process, every frame of every subscribed stream checked (identity, order, loss, latency, freezes)')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'The configuration: settings from flags, environment and the profile in the file')
            [CompletionResult]::new('devices', 'devices', [CompletionResultType]::ParameterValue, 'List cameras and microphones')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Start a server, publish, subscribe and record a few seconds, all in one process')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Draw a run''s JSON lines as a call report: one self-contained HTML file with plots over time, the --expect verdicts and pictures')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcall;help;serve' {
            break
        }
        'vcall;help;session' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Ask the server for a new session and print its id')
            break
        }
        'vcall;help;session;create' {
            break
        }
        'vcall;help;token' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Print a token for a session')
            break
        }
        'vcall;help;token;create' {
            break
        }
        'vcall;help;connect' {
            break
        }
        'vcall;help;list-streams' {
            break
        }
        'vcall;help;publish' {
            break
        }
        'vcall;help;subscribe' {
            break
        }
        'vcall;help;moderate' {
            [CompletionResult]::new('force-unpublish', 'force-unpublish', [CompletionResultType]::ParameterValue, 'Force a stream to stop; its publisher and everyone else see streamDestroyed')
            [CompletionResult]::new('force-disconnect', 'force-disconnect', [CompletionResultType]::ParameterValue, 'Force a connection out of the session')
            break
        }
        'vcall;help;moderate;force-unpublish' {
            break
        }
        'vcall;help;moderate;force-disconnect' {
            break
        }
        'vcall;help;echo-test' {
            break
        }
        'vcall;help;load-test' {
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Judge the --json outputs of a run''s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards'')')
            break
        }
        'vcall;help;load-test;merge' {
            break
        }
        'vcall;help;config' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the resolved connection settings and where each comes from (secrets masked)')
            break
        }
        'vcall;help;config;show' {
            break
        }
        'vcall;help;devices' {
            break
        }
        'vcall;help;demo' {
            break
        }
        'vcall;help;report' {
            break
        }
        'vcall;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
