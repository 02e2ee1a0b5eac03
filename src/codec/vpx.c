/* A real-time VP8 or VP9 encoder over libvpx, behind a few plain functions: libvpx's
 * configuration struct changes with its ABI version, so only C compiled against the installed
 * headers touches it (src/codec/vpx.rs calls these). Settings follow what browsers' encoders
 * use for a camera: constant bitrate, no lag, no frame dropping (vcall holds the rate
 * itself); VP8 at speed -6; VP9 at speed 6 to 8 by picture size, cyclic refresh, row
 * multithreading. */
#include <stdint.h>
#include <stdlib.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

struct vcall_vpx {
    vpx_codec_ctx_t ctx;
    vpx_codec_enc_cfg_t cfg;
    /* The context is initialized (it is destroyed with the encoder). */
    int started;
};

/* What went wrong in `e`'s last call. */
const char *vcall_vpx_error(struct vcall_vpx *e) {
    const char *detail = vpx_codec_error_detail(&e->ctx);
    return detail != NULL ? detail : vpx_codec_error(&e->ctx);
}

void vcall_vpx_free(struct vcall_vpx *e) {
    if (e != NULL) {
        if (e->started) {
            vpx_codec_destroy(&e->ctx);
        }
        free(e);
    }
}

/* An encoder (VP9 when `vp9`, else VP8) for `width`x`height` pictures at `bitrate_kbps`, a
 * keyframe at least every `keyframe_interval` pictures; timestamps are in 1/90000 s. NULL on
 * failure, with `*why` set to a static string. */
struct vcall_vpx *vcall_vpx_new(int vp9, unsigned width, unsigned height, unsigned bitrate_kbps,
                                unsigned keyframe_interval, unsigned threads, const char **why) {
    struct vcall_vpx *e = calloc(1, sizeof *e);
    if (e == NULL) {
        *why = "out of memory";
        return NULL;
    }
    vpx_codec_iface_t *iface = vp9 ? vpx_codec_vp9_cx() : vpx_codec_vp8_cx();
    if (vpx_codec_enc_config_default(iface, &e->cfg, 0) != VPX_CODEC_OK) {
        *why = "libvpx has no default encoder configuration";
        free(e);
        return NULL;
    }
    vpx_codec_enc_cfg_t *c = &e->cfg;
    c->g_w = width;
    c->g_h = height;
    c->g_timebase.num = 1;
    c->g_timebase.den = 90000;
    c->g_threads = threads;
    c->g_lag_in_frames = 0;
    c->g_error_resilient = 0;
    c->g_pass = VPX_RC_ONE_PASS;
    c->rc_end_usage = VPX_CBR;
    c->rc_target_bitrate = bitrate_kbps;
    c->rc_dropframe_thresh = 0;
    c->rc_resize_allowed = 0;
    c->rc_min_quantizer = 2;
    c->rc_max_quantizer = vp9 ? 52 : 56;
    c->rc_undershoot_pct = 100;
    c->rc_overshoot_pct = 15;
    c->rc_buf_initial_sz = 500;
    c->rc_buf_optimal_sz = 600;
    c->rc_buf_sz = 1000;
    c->kf_mode = VPX_KF_AUTO;
    c->kf_min_dist = 0;
    c->kf_max_dist = keyframe_interval;
    if (vpx_codec_enc_init(&e->ctx, iface, c, 0) != VPX_CODEC_OK) {
        *why = vpx_codec_error(&e->ctx);
        free(e);
        return NULL;
    }
    e->started = 1;
    unsigned area = width * height;
    int ok;
    if (vp9) {
        ok = vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED,
                               area <= 352 * 288 ? 6 : area <= 640 * 480 ? 7 : 8) == VPX_CODEC_OK &&
             vpx_codec_control(&e->ctx, VP9E_SET_AQ_MODE, 3) == VPX_CODEC_OK &&
             vpx_codec_control(&e->ctx, VP9E_SET_ROW_MT, threads > 1) == VPX_CODEC_OK &&
             vpx_codec_control(&e->ctx, VP9E_SET_TILE_COLUMNS, threads > 1) == VPX_CODEC_OK &&
             vpx_codec_control(&e->ctx, VP9E_SET_NOISE_SENSITIVITY, 0) == VPX_CODEC_OK;
    } else {
        ok = vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, -6) == VPX_CODEC_OK &&
             vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0) == VPX_CODEC_OK &&
             vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1) == VPX_CODEC_OK &&
             vpx_codec_control(&e->ctx, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION) ==
                 VPX_CODEC_OK;
    }
    /* A keyframe may take at most three times an average picture's bits, so it leaves
     * quickly. */
    if (!ok || vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, 300) != VPX_CODEC_OK) {
        *why = vpx_codec_error(&e->ctx);
        vcall_vpx_free(e);
        return NULL;
    }
    return e;
}

/* A new target bitrate, taken from the next picture on. 0 when it was. */
int vcall_vpx_set_rate(struct vcall_vpx *e, unsigned bitrate_kbps) {
    e->cfg.rc_target_bitrate = bitrate_kbps;
    return vpx_codec_enc_config_set(&e->ctx, &e->cfg) == VPX_CODEC_OK ? 0 : -1;
}

/* Encodes one I420 picture held in one buffer (Y, then U, then V, no padding; even sides)
 * at `pts`, shown for `duration` (both in 1/90000 s). On success (0) `*out` points to the
 * frame (valid until the next call; `*len` 0 when the encoder made none) and `*key` says
 * whether it is a keyframe. -1: libvpx failed (vcall_vpx_error says why); -2: the picture
 * could not be wrapped. */
int vcall_vpx_encode(struct vcall_vpx *e, uint8_t *i420, int64_t pts, unsigned long duration,
                     int force_keyframe, const uint8_t **out, size_t *len, int *key) {
    vpx_image_t img;
    if (vpx_img_wrap(&img, VPX_IMG_FMT_I420, e->cfg.g_w, e->cfg.g_h, 1, i420) == NULL) {
        return -2;
    }
    vpx_enc_frame_flags_t flags = force_keyframe ? VPX_EFLAG_FORCE_KF : 0;
    if (vpx_codec_encode(&e->ctx, &img, pts, duration, flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
        return -1;
    }
    *out = NULL;
    *len = 0;
    *key = 0;
    vpx_codec_iter_t iter = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    while ((pkt = vpx_codec_get_cx_data(&e->ctx, &iter)) != NULL) {
        if (pkt->kind == VPX_CODEC_CX_FRAME_PKT && *out == NULL) {
            *out = pkt->data.frame.buf;
            *len = pkt->data.frame.sz;
            *key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
        }
    }
    return 0;
}

/* The quantizer of the last picture (libvpx's internal scale: 0..127 for VP8, 0..255 for
 * VP9); -1 when unknown. */
int vcall_vpx_last_quantizer(struct vcall_vpx *e) {
    int q = -1;
    if (vpx_codec_control(&e->ctx, VP8E_GET_LAST_QUANTIZER, &q) != VPX_CODEC_OK) {
        return -1;
    }
    return q;
}
