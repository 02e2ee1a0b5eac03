# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_vcall_global_optspecs
    string join \n v/verbose q/quiet profile= config= h/help V/version
end

function __fish_vcall_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_vcall_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_vcall_using_subcommand
    set -l cmd (__fish_vcall_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c vcall -n "__fish_vcall_needs_command" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_needs_command" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_needs_command" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_needs_command" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_needs_command" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_needs_command" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "serve" -d 'Run the embedded server: signaling, media forwarding (SFU) and the session API'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "session" -d 'Create sessions on a server'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "token" -d 'Create tokens (offline, signed with the API secret)'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "connect" -d 'Join a session and print its events until Ctrl-C or --duration'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "list-streams" -d 'Print the streams in a session and the connection count, then exit'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "publish" -d 'Publish a stream: camera and microphone, a test pattern and tone, files or stdin'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "subscribe" -d 'Subscribe to streams and record them to files or pipe them to stdout'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "moderate" -d 'Moderator actions: force a stream to unpublish or a connection to leave'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "echo-test" -d 'Check a server end to end: send the test pattern and tone, get them back, report the round trip (Janus\'s EchoTest plugin, or publish-and-subscribe-to-self on a vcall server)'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "load-test" -d 'Load a server: many rooms of publishers and subscribers in one process, every frame of every subscribed stream checked (identity, order, loss, latency, freezes)'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "config" -d 'The configuration: settings from flags, environment and the profile in the file'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "devices" -d 'List cameras and microphones'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "demo" -d 'Start a server, publish, subscribe and record a few seconds, all in one process'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "report" -d 'Draw a run\'s JSON lines as a call report: one self-contained HTML file with plots over time, the --expect verdicts and pictures'
complete -c vcall -n "__fish_vcall_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l listen -d 'Address for signaling and the HTTP API' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l api-key -d 'API key [env: VCALL_API_KEY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l api-secret -d 'API secret [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l ice-server -d 'STUN or TURN server told to clients for their media (repeatable; WHIP/WHEP `Link` headers); `turn:user:pass@host:port` carries credentials. The server\'s own candidates are its addresses on the media port, or --public-ip' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l max-connections -d 'Signaling connections open at once; more are refused with `tooManyConnections`' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l max-connections-per-ip -d 'Signaling connections open at once from one IP address' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l tls-cert -d 'Serve HTTPS and WSS (signaling, session API, WHIP/WHEP) with this PEM certificate chain' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l tls-key -d 'The PEM private key of --tls-cert' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l udp-port -d 'The one UDP port every client\'s media shares (0: any free one)' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l udp-ports -d 'Take the media port from this range instead, e.g. 40000-40999: the first free one' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l public-ip -d 'The address media candidates advertise, for a server behind 1:1 NAT (e.g. a cloud VM\'s public IP while it listens on its private one)' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l max-subscriber-bitrate -d 'The most a publisher is asked to send (REMB, k and M suffixes work), like a Janus room\'s `bitrate`; publishers are also held to what their slowest subscriber can take' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l publisher-grace -d 'How long a stream whose publisher\'s connection was lost (not left) waits for the publisher to come back and go on in the same subscriptions and recordings; 0 ends it at once' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l impair -d 'Impair this process\'s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate\'s queue), rebind=10s (the media sockets move to new ports then, as a NAT\'s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand serve" -l json -d '`serving` when it listens and `serverStopped` at the end, as JSON lines (docs/json.md)'
complete -c vcall -n "__fish_vcall_using_subcommand serve" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand serve" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand serve" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand serve" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand session; and not __fish_seen_subcommand_from create help" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand session; and not __fish_seen_subcommand_from create help" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand session; and not __fish_seen_subcommand_from create help" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand session; and not __fish_seen_subcommand_from create help" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand session; and not __fish_seen_subcommand_from create help" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand session; and not __fish_seen_subcommand_from create help" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand session; and not __fish_seen_subcommand_from create help" -f -a "create" -d 'Ask the server for a new session and print its id'
complete -c vcall -n "__fish_vcall_using_subcommand session; and not __fish_seen_subcommand_from create help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l url -d 'Server URL [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l api-key -d 'API key [env: VCALL_API_KEY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l api-secret -d 'API secret [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l location-hint -d 'An IP address hinting where the session\'s media should be handled' -r
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l room -d 'The session of the LiveKit room NAME on `vcall serve` (where LiveKit clients with a token for NAME land), made from the key pair alone: no server is asked' -r
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l p2p -d 'Peer-to-peer: media directly between the session\'s two clients, through the server when that fails'
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -l json -d 'Print the whole session as one JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "create" -d 'Ask the server for a new session and print its id'
complete -c vcall -n "__fish_vcall_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand token; and not __fish_seen_subcommand_from create help" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and not __fish_seen_subcommand_from create help" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand token; and not __fish_seen_subcommand_from create help" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand token; and not __fish_seen_subcommand_from create help" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand token; and not __fish_seen_subcommand_from create help" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand token; and not __fish_seen_subcommand_from create help" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand token; and not __fish_seen_subcommand_from create help" -f -a "create" -d 'Print a token for a session'
complete -c vcall -n "__fish_vcall_using_subcommand token; and not __fish_seen_subcommand_from create help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l session -d 'The session the token admits to [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l role -d 'What the holder may do' -r -f -a "subscriber\t'May subscribe only'
publisher\t'May publish and subscribe'
moderator\t'May publish, subscribe, and force others to unpublish or leave'"
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l data -d 'Token data, visible to the other participants' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l room -d 'The LiveKit room the token admits to' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l identity -d 'The participant\'s identity in the LiveKit room (unique there)' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l name -d 'The participant\'s display name' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l metadata -d 'The participant\'s metadata, visible to the others' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l expire-in -d 'Lifetime, e.g. 30m, 24h, 7d' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l api-key -d 'API key [env: VCALL_API_KEY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l api-secret -d 'API secret [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l livekit -d 'A LiveKit access token (for LiveKit, OpenVidu 3 or `vcall serve`\'s `/rtc`), signed with the same --api-key/--api-secret; needs --room and --identity'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l can-publish -d 'The participant may publish (given alone: only publish; neither this nor --can-subscribe: both)'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l can-subscribe -d 'The participant may subscribe (given alone: only subscribe)'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -l json -d 'The token and its claims as one JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "create" -d 'Print a token for a session'
complete -c vcall -n "__fish_vcall_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token\'s) [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l session -d 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l token -d 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l data -d 'Client data, visible to the other participants [env: VCALL_DATA]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l ice-server -d 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l ice-transport -d 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]' -r -f -a "all\t'Host, server-reflexive and relayed candidates'
relay\t'Only relayed ones (TURN): the media goes through the TURN server'"
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l timeout -d 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l api-secret -d 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l pin -d 'The room\'s PIN [env: VCALL_PIN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l display -d 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l max-retries -d 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l retry-delay -d 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l keepalive-interval -d 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l wait-for -d 'Wait until the session reaches a state, then exit 0: comma-separated conditions on `streams` and `connections` (others than this one), e.g. \'streams>=2, connections>=3\'. With --timeout, exit 11 when it is not reached in time' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l duration -d 'Leave after this long (e.g. 10s); default: until Ctrl-C' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l create-room -d 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
complete -c vcall -n "__fish_vcall_using_subcommand connect" -l json -d 'One JSON object per line'
complete -c vcall -n "__fish_vcall_using_subcommand connect" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand connect" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand connect" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token\'s) [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l session -d 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l token -d 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l data -d 'Client data, visible to the other participants [env: VCALL_DATA]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l ice-server -d 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l ice-transport -d 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]' -r -f -a "all\t'Host, server-reflexive and relayed candidates'
relay\t'Only relayed ones (TURN): the media goes through the TURN server'"
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l timeout -d 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l api-secret -d 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l pin -d 'The room\'s PIN [env: VCALL_PIN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l display -d 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l max-retries -d 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l retry-delay -d 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l keepalive-interval -d 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l create-room -d 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -l json -d 'One JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand list-streams" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token\'s) [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l session -d 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l token -d 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l data -d 'Client data, visible to the other participants [env: VCALL_DATA]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l ice-server -d 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l ice-transport -d 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]' -r -f -a "all\t'Host, server-reflexive and relayed candidates'
relay\t'Only relayed ones (TURN): the media goes through the TURN server'"
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l timeout -d 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l api-secret -d 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l pin -d 'The room\'s PIN [env: VCALL_PIN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l display -d 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l max-retries -d 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l retry-delay -d 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l keepalive-interval -d 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l impair -d 'Impair this process\'s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate\'s queue), rebind=10s (the media sockets move to new ports then, as a NAT\'s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l name -d 'The stream\'s name, visible to others' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l video -d 'Video source: camera[:INDEX|NAME], testsrc (testsrc:busy: noisy, uses its whole bitrate; testsrc:calm: a mostly still picture, as a camera on a calm scene), a media file (MP4, MOV, MKV, WebM, Ogg, IVF, …: its video; see --transcode), a .y4m file, or - for Y4M on stdin' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l audio -d 'Audio source: mic[:NAME], tone[:HZ], or a media file (its sound; WAV, MP4, MKV, WebM, Ogg, MP3, FLAC, …)' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l file -d 'A media file\'s video and audio (whichever it has), at its own timing: --video FILE --audio FILE in one' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l transcode -d 'A media file\'s video: auto sends it as it is (no encoding cost) while that serves the far end, and encodes it to H.264 while a keyframe is asked for that the file has not within 200 ms, while the path carries less than the file\'s bitrate, before --start\'s first keyframe, and always for codecs other than H.264 and VP8 or with B-frames; always encodes it; never sends it as it is (H.264 or VP8 without B-frames)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l start -d 'Media files: start this far in (90, 1:30, 1:02:03.5, 500ms)' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l width -d 'Picture width for camera and testsrc' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l height -d 'Picture height for camera and testsrc' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l fps -d 'Frame rate for camera and testsrc' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l video-codec -d 'The codec video is encoded to: auto offers H.264, VP8 then VP9 and encodes to the one the far end chooses (a VP8-only Janus room gets VP8); h264, vp8 or vp9 offers that one only. A media file sent as it is goes in its own codec' -r -f -a "auto\t'H.264, VP8 or VP9, as the far end chooses'
h264\t'H.264 (openh264) only'
vp8\t'VP8 (libvpx) only'
vp9\t'VP9 (libvpx, profile 0) only'"
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l simulcast -d 'Send the video as this many simulcast layers (2 or 3; raw pictures only: the test pattern, a camera, y4m): the full size at --video-bitrate, then half the size at a third of that, then a quarter at a ninth, each its own encoding with its own rid, so that a forwarding server gives each viewer the one its path carries. When the path narrows the largest layer pauses first' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l video-bitrate -d 'Video bitrate, bits per second (k and M suffixes work)' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l audio-bitrate -d 'Opus bitrate, bits per second' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l degradation -d 'What gives way when the picture needs more bits than the path carries (the encoder\'s QP says so): balanced halves the frame rate, then the size, alternating; maintain-framerate only the size; maintain-resolution only the frame rate' -r -f -a "balanced\t''
maintain-framerate\t''
maintain-resolution\t''"
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l keyframe-interval -d 'Frames between keyframes (a keyframe is also sent whenever a receiver asks)' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l duration -d 'Unpublish after this long; default: until Ctrl-C or the end of the sources' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l stats-interval -d 'Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter, round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at the end; 0: the summary only' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l create-room -d 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l no-audio -d 'Send no audio'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l no-video -d 'Send no video'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l loop -d 'Start file sources again at their end (at --start)'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -l json -d 'Events and the result as JSON lines on stdout (docs/json.md)'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand publish" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token\'s) [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l session -d 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l token -d 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l data -d 'Client data, visible to the other participants [env: VCALL_DATA]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l ice-server -d 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l ice-transport -d 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]' -r -f -a "all\t'Host, server-reflexive and relayed candidates'
relay\t'Only relayed ones (TURN): the media goes through the TURN server'"
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l timeout -d 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l api-secret -d 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l pin -d 'The room\'s PIN [env: VCALL_PIN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l display -d 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l max-retries -d 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l retry-delay -d 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l keepalive-interval -d 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l impair -d 'Impair this process\'s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate\'s queue), rebind=10s (the media sockets move to new ports then, as a NAT\'s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l stream -d 'Stream id or name, or who publishes it (a LiveKit participant\'s identity, a Janus display name), to subscribe to (repeatable); default: every stream, including later ones' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -s o -l output -d 'Output file (.mp4 or .mkv: one file with audio and video), or - for stdout with --format' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l output-dir -d 'Record every stream to its own file in this folder, named from its name and id' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l format -d 'Format on stdout (with -o -) or for --output-dir files (mp4 or mkv by default mp4)' -r -f -a "mkv\t'Matroska with the encoded streams'
y4m\t'Decoded video, YUV4MPEG2'
wav\t'Decoded audio, 48 kHz stereo 16-bit WAV'
h264\t'Encoded H.264, Annex B'
ogg\t'Encoded Opus in Ogg'"
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l layer -d 'Which layer of a simulcast video stream to receive: auto (the best the path carries, following it), high, mid or low (that layer, whatever the path). Against vcall serve and Janus (its substream: low 0, mid 1, high 2)' -r -f -a "auto\t''
high\t''
mid\t''
low\t''"
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l max-size -d 'Of a simulcast video stream, no larger layer than a picture of this size needs (e.g. 640x360): the smallest whose sides are both at least 90 % of it, the largest when none is; `auto` stays at or under it. Against vcall serve and LiveKit (the track\'s display size, which its server prefers to --layer)' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l duration -d 'Stop after this much recorded media (e.g. 10s)' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l frames -d 'Stop after this many video frames' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l expect -d 'Conditions the received media must meet, checked at the end (exit 11 when one fails or cannot be measured), e.g. \'frames>=300, latency.p95<200ms, freeze.max<500ms, av-skew<40ms, loss<1%\'. Metrics: frames, audio-frames, frames.lost, latency.p50, latency.p95, latency.max, freeze.max, av-skew, loss' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l stats-interval -d 'Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter, round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at the end; 0: the summary only' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l report -d 'Write a call report when the recording ends, whatever its outcome: one self-contained HTML file with plots over time (bit rate, frame rate, freezes, latency, loss, picture size, A/V offset), the --expect verdicts, and pictures at intervals and around each freeze' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l create-room -d 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l no-audio -d 'Receive no audio'
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l no-video -d 'Receive no video'
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -l json -d 'Events and results as JSON lines on stdout (docs/json.md); not with -o -'
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand subscribe" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -f -a "force-unpublish" -d 'Force a stream to stop; its publisher and everyone else see streamDestroyed'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -f -a "force-disconnect" -d 'Force a connection out of the session'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and not __fish_seen_subcommand_from force-unpublish force-disconnect help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token\'s) [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l session -d 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l token -d 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l data -d 'Client data, visible to the other participants [env: VCALL_DATA]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l ice-server -d 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l ice-transport -d 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]' -r -f -a "all\t'Host, server-reflexive and relayed candidates'
relay\t'Only relayed ones (TURN): the media goes through the TURN server'"
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l timeout -d 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l api-secret -d 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l pin -d 'The room\'s PIN [env: VCALL_PIN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l display -d 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l max-retries -d 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l retry-delay -d 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l keepalive-interval -d 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l stream -d 'Stream id or name' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l create-room -d 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -l json -d 'The result as one JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-unpublish" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token\'s) [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l session -d 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l token -d 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l data -d 'Client data, visible to the other participants [env: VCALL_DATA]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l ice-server -d 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l ice-transport -d 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]' -r -f -a "all\t'Host, server-reflexive and relayed candidates'
relay\t'Only relayed ones (TURN): the media goes through the TURN server'"
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l timeout -d 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l api-secret -d 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l pin -d 'The room\'s PIN [env: VCALL_PIN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l display -d 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l max-retries -d 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l retry-delay -d 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l keepalive-interval -d 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l connection -d 'Connection id' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l create-room -d 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -l json -d 'The result as one JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from force-disconnect" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from help" -f -a "force-unpublish" -d 'Force a stream to stop; its publisher and everyone else see streamDestroyed'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from help" -f -a "force-disconnect" -d 'Force a connection out of the session'
complete -c vcall -n "__fish_vcall_using_subcommand moderate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token\'s) [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l session -d 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l token -d 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l data -d 'Client data, visible to the other participants [env: VCALL_DATA]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l ice-server -d 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l ice-transport -d 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]' -r -f -a "all\t'Host, server-reflexive and relayed candidates'
relay\t'Only relayed ones (TURN): the media goes through the TURN server'"
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l timeout -d 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l api-secret -d 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l pin -d 'The room\'s PIN [env: VCALL_PIN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l display -d 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l max-retries -d 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l retry-delay -d 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l keepalive-interval -d 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l impair -d 'Impair this process\'s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate\'s queue), rebind=10s (the media sockets move to new ports then, as a NAT\'s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l duration -d 'How long to send' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l frames -d 'Send this many video frames once the way back is up (and the tone alongside), instead of for a duration, then wait for the last of them to come back: what was lost is then exact' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -s o -l output -d 'Also record what came back (.mp4 or .mkv)' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l create-room -d 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -l json -d 'The result as one JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand echo-test" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall serve: sessions and tokens are made from the API key pair), livekit+ws(s)://… (LiveKit, OpenVidu 3: LiveKit tokens from the key pair) or janus+ws(s)://…, janus+http(s)://… (a VideoRoom room per room, created when missing), or a WHIP endpoint for the publishers, whip+http(s)://…, as a template: {room} is the room (with a key pair, the vcall serve session made for it), {publisher} the publisher\'s stream name (needed with more than one publisher a room), e.g. \'whip+http://HOST:7880/whip/{room}?name={publisher}\' [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l api-key -d 'API key [env: VCALL_API_KEY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l api-secret -d 'API secret [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l whep-url -d 'The WHEP endpoint subscribers play each publisher from, when --url is a WHIP one: a template with {room} and {publisher} as --url\'s, e.g. \'whep+http://HOST:7880/whep/{room}/{publisher}\'' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l token -d 'Janus\'s API token, or the bearer token of WHIP/WHEP endpoints without a key pair [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l impair -d 'Impair this process\'s media, both directions, in userspace: comma-separated loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start, repeatable), rate=500kbit, queue=300ms (the rate\'s queue), rebind=10s (the media sockets move to new ports then, as a NAT\'s new mapping; repeatable), seed=N [env: VCALL_IMPAIR]' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l rooms -d 'Rooms (sessions), each with its own publishers and subscribers' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l publishers -d 'Publishers per room: at most 1,000, or 100,000 that come and go (--publish-for)' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l subscribers -d 'Subscribers per room; each receives every publisher of its room' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l join-rate -d 'How many participants join per second (publishers first, then subscribers; the other way round with --publish-for), e.g. 20/s' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l duration -d 'How long the run lasts once every participant has joined (or failed to), e.g. 60s' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l publish-for -d 'How long each publisher publishes before it leaves, e.g. 2s (default: until the run ends). A room\'s publishers then come and go, the next joining at the join rate (subscribers join first, so that they see every one), as in rooms where people drop in and out: every stream set up, received and torn down' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l width -d 'Video picture size and rate: one encoder for every publisher, each publisher\'s frames marked as its own' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l height -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l fps -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l video-bitrate -d 'Video bitrate (e.g. 300k)' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l rate-tiers -d 'Rate tiers the shared encoders make (the bitrate, half of it, a quarter…); each publisher sends the highest its connection\'s send estimate carries, stepping down at once and back up after a quiet hold, as congestion control does. 1: a fixed rate' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l decode -d 'The share of subscribed streams whose video is also decoded, each picture\'s burned-in capture time checked against its frame\'s mark (the rest are checked from the marks alone); spread over the run, the first stream always when above 0%' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l audio -d 'Audio every publisher sends: the test tone, or none' -r -f -a "tone\t''
none\t''"
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l expect -d 'Conditions over the whole run, checked at the end (exit 11 when one fails), e.g. \'joined==100%, streams.frames.lost==0, latency.p95<200ms, freeze.max.p99<500ms, first-frame.p95<1s, identity\'. Metrics: joined, streams, streams.frames, streams.frames.lost, loss, latency.p50/p95/p99/max (every frame of every stream), freeze.max.p50/p95/p99/max and first-frame.p50/p95/p99/max (across streams), identity (no stream carried another publisher\'s frames), pictures.decoded and pictures.bad (of the streams --decode samples)' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l stats-interval -d 'Figures this often on stderr (`loadStats` lines with --json); 0: only the summary' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l report -d 'Write a report when the run ends, whatever its outcome: one self-contained HTML file with the verdict and totals, plots over time (participants, streams, frames received and lost, latency, freezes, loss) and the worst rooms and streams (as `vcall report` draws from the --json lines)' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l generator-cpu-limit -d 'The share of this machine\'s cores the generator may use before it, not the server, is taken to be the limit of the run (exit 12), e.g. 50%' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l shard -d 'Run this share of the run: the Ith of N processes (from 0, as a Kubernetes Indexed Job\'s JOB_COMPLETION_INDEX), each taking every Nth participant; every shard is given the same flags, and `load-test merge` judges their --json outputs as one run [env: VCALL_SHARD]' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l start-at -d 'Start joining at this Unix time (seconds), so that shards started apart run together' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l run-id -d 'The run\'s name, which its rooms and streams are named after (default: random; with --shard, made from the flags, so that every shard agrees)' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l generator-lag-limit -d 'How late the generator\'s timers and encoders may run (p99) before it, not the server, is taken to be the limit of the run (exit 12)' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l timeout -d 'Stop waiting for a join, a publish or a subscription after this long' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l json -d 'Results as JSON lines on stdout: per interval, the summary, and each stream with --per-stream'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -l per-stream -d 'Each stream\'s figures in the summary (a `loadStream` line each with --json)'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -f -a "merge" -d 'Judge the --json outputs of a run\'s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards\')'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and not __fish_seen_subcommand_from merge help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from merge" -l expect -d 'Conditions over the whole run, as for a run (exit 11 when one fails)' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from merge" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from merge" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from merge" -l json -d 'The merged summary as a JSON line on stdout'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from merge" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from merge" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from merge" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from merge" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from help" -f -a "merge" -d 'Judge the --json outputs of a run\'s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards\')'
complete -c vcall -n "__fish_vcall_using_subcommand load-test; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand config; and not __fish_seen_subcommand_from show help" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and not __fish_seen_subcommand_from show help" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand config; and not __fish_seen_subcommand_from show help" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand config; and not __fish_seen_subcommand_from show help" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand config; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand config; and not __fish_seen_subcommand_from show help" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print the resolved connection settings and where each comes from (secrets masked)'
complete -c vcall -n "__fish_vcall_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l url -d 'Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus), whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit, OpenVidu 3; the room is the token\'s) [env: VCALL_URL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l session -d 'Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l token -d 'Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l data -d 'Client data, visible to the other participants [env: VCALL_DATA]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l ice-server -d 'STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l ice-transport -d 'Which ICE candidates media may use: `relay` only TURN relays (needs a `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]' -r -f -a "all\t'Host, server-reflexive and relayed candidates'
relay\t'Only relayed ones (TURN): the media goes through the TURN server'"
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l dtls-certificate -d 'DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one: an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l timeout -d 'Limit for each wait: an answer from the server, the first media, a --wait-for condition (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l api-secret -d 'Janus API secret (`apisecret`) [env: VCALL_API_SECRET]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l pin -d 'The room\'s PIN [env: VCALL_PIN]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l display -d 'The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l max-retries -d 'Attempts to join again when the signaling connection drops or the server restarts; 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l retry-delay -d 'Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l keepalive-interval -d 'Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l api-key -d 'API key, for the commands that sign tokens [env: VCALL_API_KEY]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l create-room -d 'Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]'
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -l json -d 'One JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the resolved connection settings and where each comes from (secrets masked)'
complete -c vcall -n "__fish_vcall_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand devices" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand devices" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand devices" -l json -d 'One JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand devices" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand devices" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand devices" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand devices" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand demo" -l duration -d 'How much to record' -r
complete -c vcall -n "__fish_vcall_using_subcommand demo" -s o -l output -d 'The recording' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand demo" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand demo" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand demo" -l json -d 'The report as one JSON object'
complete -c vcall -n "__fish_vcall_using_subcommand demo" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand demo" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand demo" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand demo" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand report" -s o -l output -d 'Where the report goes: one self-contained HTML file' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand report" -l profile -d 'The settings profile to use from the configuration file [env: VCALL_PROFILE]' -r
complete -c vcall -n "__fish_vcall_using_subcommand report" -l config -d 'The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]' -r -F
complete -c vcall -n "__fish_vcall_using_subcommand report" -s v -l verbose -d 'More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides'
complete -c vcall -n "__fish_vcall_using_subcommand report" -s q -l quiet -d 'Only errors on stderr; no progress display'
complete -c vcall -n "__fish_vcall_using_subcommand report" -s h -l help -d 'Print help'
complete -c vcall -n "__fish_vcall_using_subcommand report" -s V -l version -d 'Print version'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "serve" -d 'Run the embedded server: signaling, media forwarding (SFU) and the session API'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "session" -d 'Create sessions on a server'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "token" -d 'Create tokens (offline, signed with the API secret)'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "connect" -d 'Join a session and print its events until Ctrl-C or --duration'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "list-streams" -d 'Print the streams in a session and the connection count, then exit'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "publish" -d 'Publish a stream: camera and microphone, a test pattern and tone, files or stdin'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "subscribe" -d 'Subscribe to streams and record them to files or pipe them to stdout'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "moderate" -d 'Moderator actions: force a stream to unpublish or a connection to leave'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "echo-test" -d 'Check a server end to end: send the test pattern and tone, get them back, report the round trip (Janus\'s EchoTest plugin, or publish-and-subscribe-to-self on a vcall server)'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "load-test" -d 'Load a server: many rooms of publishers and subscribers in one process, every frame of every subscribed stream checked (identity, order, loss, latency, freezes)'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "config" -d 'The configuration: settings from flags, environment and the profile in the file'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "devices" -d 'List cameras and microphones'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "demo" -d 'Start a server, publish, subscribe and record a few seconds, all in one process'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "report" -d 'Draw a run\'s JSON lines as a call report: one self-contained HTML file with plots over time, the --expect verdicts and pictures'
complete -c vcall -n "__fish_vcall_using_subcommand help; and not __fish_seen_subcommand_from serve session token connect list-streams publish subscribe moderate echo-test load-test config devices demo report help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcall -n "__fish_vcall_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "create" -d 'Ask the server for a new session and print its id'
complete -c vcall -n "__fish_vcall_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "create" -d 'Print a token for a session'
complete -c vcall -n "__fish_vcall_using_subcommand help; and __fish_seen_subcommand_from moderate" -f -a "force-unpublish" -d 'Force a stream to stop; its publisher and everyone else see streamDestroyed'
complete -c vcall -n "__fish_vcall_using_subcommand help; and __fish_seen_subcommand_from moderate" -f -a "force-disconnect" -d 'Force a connection out of the session'
complete -c vcall -n "__fish_vcall_using_subcommand help; and __fish_seen_subcommand_from load-test" -f -a "merge" -d 'Judge the --json outputs of a run\'s shards as one run: counts added, latency histograms merged (quantiles of the whole run, not averages of the shards\')'
complete -c vcall -n "__fish_vcall_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the resolved connection settings and where each comes from (secrets masked)'
