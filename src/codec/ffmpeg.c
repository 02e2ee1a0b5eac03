/* FFmpeg's libraries, loaded at their first use rather than when vcall starts.
 *
 * Debian's libavcodec and libavformat bring about 120 other libraries with them (x265, ICU,
 * GnuTLS, Cairo, ...), each bound at once when loaded: linked the usual way, they cost every
 * vcall process ~30 ms of CPU before main(), whether it reads a file or not. vcall calls
 * FFmpeg only to read media files and to decode received VP8, VP9 and AV1, so each FFmpeg
 * function it calls is defined here, in the binary itself, as a trampoline: its first call
 * loads the libraries (dlopen, once) and every call goes on to the library's own function.
 * The linker then finds no use for the libraries themselves and, as rustc links
 * --as-needed, leaves them out (tests/package.rs checks the binary names none). The
 * trampolines are hidden (build.rs), so FFmpeg's own calls between its libraries, which are
 * loaded locally, never come through them.
 *
 * A function vcall starts calling must be added here, with its prototype from FFmpeg's
 * headers; otherwise the libraries are linked again and that test fails. The prototypes are
 * FFmpeg 5's and 6's (libavcodec 59 and 60); build.rs links other versions as usual. */

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

/* The libraries, each by its file name (build.rs defines them from the installed
 * versions), in the order they depend on each other. */
static const char *const LIBRARIES[] = {VCALL_AVUTIL, VCALL_SWRESAMPLE, VCALL_SWSCALE,
                                        VCALL_AVCODEC, VCALL_AVFORMAT};
#define LIBRARY_COUNT (sizeof LIBRARIES / sizeof LIBRARIES[0])

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *handles[LIBRARY_COUNT];
static char failure[512];

static void load_all(void) {
    for (size_t i = 0; i < LIBRARY_COUNT; i++) {
        handles[i] = dlopen(LIBRARIES[i], RTLD_LAZY | RTLD_LOCAL);
        if (!handles[i]) {
            const char *why = dlerror();
            snprintf(failure, sizeof failure, "%s", why ? why : LIBRARIES[i]);
            return;
        }
    }
}

/* Loads FFmpeg's libraries (once). 0 when they are loaded; otherwise -1, with the loader's
 * reason copied into `error` (`len` bytes at most, NUL-terminated). */
int vcall_ffmpeg_load(char *error, size_t len) {
    pthread_once(&once, load_all);
    if (failure[0] == '\0') {
        return 0;
    }
    if (len > 0) {
        snprintf(error, len, "%s", failure);
    }
    return -1;
}

/* The library function `name`. vcall loads the libraries (vcall_ffmpeg_load, which reports
 * a failure as an error) before its first call into them, so a failure here is a call that
 * skipped it: said, and the process stops. */
static void *resolve(const char *name) {
    char error[512];
    if (vcall_ffmpeg_load(error, sizeof error) != 0) {
        fprintf(stderr, "vcall: FFmpeg's libraries could not be loaded: %s\n", error);
        abort();
    }
    for (size_t i = LIBRARY_COUNT; i-- > 0;) {
        void *f = dlsym(handles[i], name);
        if (f) {
            return f;
        }
    }
    fprintf(stderr, "vcall: FFmpeg's libraries have no %s\n", name);
    abort();
}

/* The library's `name`, found once. */
#define FOUND(name)                                                                    \
    static void *found_;                                                               \
    void *p_ = __atomic_load_n(&found_, __ATOMIC_ACQUIRE);                             \
    if (!p_) {                                                                         \
        p_ = resolve(#name);                                                           \
        __atomic_store_n(&found_, p_, __ATOMIC_RELEASE);                               \
    }

/* A trampoline: `ret name params` calls the library's `name` with `args`. */
#define LAZY(ret, name, params, args)                                                  \
    ret name params {                                                                  \
        FOUND(name)                                                                    \
        return ((__typeof__(&name))p_) args;                                           \
    }

/* The same for a function that returns nothing. */
#define LAZY_VOID(name, params, args)                                                  \
    void name params {                                                                 \
        FOUND(name)                                                                    \
        ((__typeof__(&name))p_) args;                                                  \
    }

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* libavutil */
LAZY_VOID(av_dict_free, (AVDictionary **m), (m))
LAZY(AVFrame *, av_frame_alloc, (void), ())
LAZY_VOID(av_frame_free, (AVFrame **frame), (frame))
LAZY(int, av_frame_get_buffer, (AVFrame *frame, int align), (frame, align))
LAZY_VOID(av_freep, (void *ptr), (ptr))
LAZY(int, av_get_bytes_per_sample, (enum AVSampleFormat f), (f))
LAZY(int64_t, av_get_default_channel_layout, (int nb_channels), (nb_channels))
LAZY_VOID(av_log_set_level, (int level), (level))
LAZY(int, av_opt_set_dict, (void *obj, struct AVDictionary **options), (obj, options))
LAZY(const AVPixFmtDescriptor *, av_pix_fmt_desc_get, (enum AVPixelFormat f), (f))
LAZY(int, av_sample_fmt_is_planar, (enum AVSampleFormat f), (f))
LAZY(int, av_strerror, (int errnum, char *errbuf, size_t errbuf_size), (errnum, errbuf, errbuf_size))

/* libavcodec */
LAZY(int, av_bsf_alloc, (const AVBitStreamFilter *filter, AVBSFContext **ctx), (filter, ctx))
LAZY_VOID(av_bsf_free, (AVBSFContext **ctx), (ctx))
LAZY(const AVBitStreamFilter *, av_bsf_get_by_name, (const char *name), (name))
LAZY(int, av_bsf_init, (AVBSFContext *ctx), (ctx))
LAZY(int, av_bsf_receive_packet, (AVBSFContext *ctx, AVPacket *pkt), (ctx, pkt))
LAZY(int, av_bsf_send_packet, (AVBSFContext *ctx, AVPacket *pkt), (ctx, pkt))
LAZY(int, av_codec_is_decoder, (const AVCodec *codec), (codec))
LAZY_VOID(av_init_packet, (AVPacket *pkt), (pkt))
LAZY(int, av_new_packet, (AVPacket *pkt, int size), (pkt, size))
LAZY(int, av_packet_ref, (AVPacket *dst, const AVPacket *src), (dst, src))
LAZY_VOID(av_packet_unref, (AVPacket *pkt), (pkt))
LAZY(AVCodecContext *, avcodec_alloc_context3, (const AVCodec *codec), (codec))
LAZY(int, avcodec_close, (AVCodecContext *avctx), (avctx))
LAZY(const AVCodec *, avcodec_find_decoder, (enum AVCodecID id), (id))
LAZY(const AVCodec *, avcodec_find_decoder_by_name, (const char *name), (name))
LAZY_VOID(avcodec_flush_buffers, (AVCodecContext *avctx), (avctx))
LAZY_VOID(avcodec_free_context, (AVCodecContext **avctx), (avctx))
LAZY(const char *, avcodec_get_name, (enum AVCodecID id), (id))
LAZY(int, avcodec_open2, (AVCodecContext *avctx, const AVCodec *codec, AVDictionary **options),
     (avctx, codec, options))
LAZY(int, avcodec_parameters_copy, (AVCodecParameters *dst, const AVCodecParameters *src),
     (dst, src))
LAZY_VOID(avcodec_parameters_free, (AVCodecParameters **par), (par))
LAZY(int, avcodec_parameters_to_context, (AVCodecContext *codec, const AVCodecParameters *par),
     (codec, par))
LAZY(int, avcodec_receive_frame, (AVCodecContext *avctx, AVFrame *frame), (avctx, frame))
LAZY(int, avcodec_send_packet, (AVCodecContext *avctx, const AVPacket *avpkt), (avctx, avpkt))

/* libavformat */
LAZY(int, av_find_best_stream,
     (AVFormatContext *ic, enum AVMediaType type, int wanted_stream_nb, int related_stream,
      const AVCodec **decoder_ret, int flags),
     (ic, type, wanted_stream_nb, related_stream, decoder_ret, flags))
LAZY(int, av_read_frame, (AVFormatContext *s, AVPacket *pkt), (s, pkt))
LAZY_VOID(avformat_close_input, (AVFormatContext **s), (s))
LAZY(int, avformat_find_stream_info, (AVFormatContext *ic, AVDictionary **options), (ic, options))
LAZY_VOID(avformat_free_context, (AVFormatContext *s), (s))
LAZY(int, avformat_open_input,
     (AVFormatContext **ps, const char *url, const AVInputFormat *fmt, AVDictionary **options),
     (ps, url, fmt, options))
LAZY(int, avformat_seek_file,
     (AVFormatContext *s, int stream_index, int64_t min_ts, int64_t ts, int64_t max_ts, int flags),
     (s, stream_index, min_ts, ts, max_ts, flags))
LAZY(int, avio_close, (AVIOContext *s), (s))
LAZY_VOID(avio_context_free, (AVIOContext **s), (s))
LAZY_VOID(avio_flush, (AVIOContext *s), (s))

/* libswresample */
LAZY(struct SwrContext *, swr_alloc_set_opts,
     (struct SwrContext *s, int64_t out_ch_layout, enum AVSampleFormat out_sample_fmt,
      int out_sample_rate, int64_t in_ch_layout, enum AVSampleFormat in_sample_fmt,
      int in_sample_rate, int log_offset, void *log_ctx),
     (s, out_ch_layout, out_sample_fmt, out_sample_rate, in_ch_layout, in_sample_fmt,
      in_sample_rate, log_offset, log_ctx))
LAZY(int, swr_convert_frame, (SwrContext *swr, AVFrame *output, const AVFrame *input),
     (swr, output, input))
LAZY_VOID(swr_free, (struct SwrContext **s), (s))
LAZY(int64_t, swr_get_delay, (struct SwrContext *s, int64_t base), (s, base))
LAZY(int, swr_init, (struct SwrContext *s), (s))

/* libswscale */
LAZY_VOID(sws_freeContext, (struct SwsContext *c), (c))
LAZY(struct SwsContext *, sws_getContext,
     (int srcW, int srcH, enum AVPixelFormat srcFormat, int dstW, int dstH,
      enum AVPixelFormat dstFormat, int flags, SwsFilter *srcFilter, SwsFilter *dstFilter,
      const double *param),
     (srcW, srcH, srcFormat, dstW, dstH, dstFormat, flags, srcFilter, dstFilter, param))
LAZY(int, sws_scale,
     (struct SwsContext *c, const uint8_t *const srcSlice[], const int srcStride[], int srcSliceY,
      int srcSliceH, uint8_t *const dst[], const int dstStride[]),
     (c, srcSlice, srcStride, srcSliceY, srcSliceH, dst, dstStride))
