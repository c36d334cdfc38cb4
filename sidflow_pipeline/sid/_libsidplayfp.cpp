// The smallest useful binding of libsidplayfp: one emulator that loads a tune from
// bytes, plays N samples and snapshots the SID registers while it does. Everything
// else (windows, watchdogs, caching, traces' meaning) lives in Python
// (sidflow_pipeline/sid/engine.py), so this file only has to be right, not clever.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sidplayfp/SidConfig.h>
#include <sidplayfp/SidInfo.h>
#include <sidplayfp/SidTune.h>
#include <sidplayfp/SidTuneInfo.h>
#include <sidplayfp/builders/resid.h>
#include <sidplayfp/builders/residfp.h>
#include <sidplayfp/sidplayfp.h>

#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

// libsidplayfp 2.4 reads memory it never initialised on some RSID and BASIC tunes
// (valgrind, on the sidplayfp program too: "uninitialised value ... created by
// sidplayfp::sidplayfp()"; /DEMOS/UNKNOWN/Lucy.sid and Bach_Duet_BASIC.sid are two).
// The program hears what its young heap holds: zeros (its output is the same with
// MALLOC_PERTURB_=255, which zero-fills every allocation, and changes with other
// values). A worker that renders song after song would hear recycled heap, different
// every time. glibc's M_PERTURB of 0xff zero-fills every block malloc hands out, so
// each song starts from the state a fresh program sees, whatever ran before. Set when
// the first engine is made: processes that only ask for the version keep the defaults.
bool zero_fresh_blocks()
{
    static const bool done = [] { return mallopt(M_PERTURB, 0xff) == 1; }();
    return done;
}

// Registers $00-$18 are the ones a player writes; $19-$1C are read-only.
constexpr int kTraceRegisters = 25;
constexpr int kMaxSids = 3;

class Engine {
  public:
    // emulation: "resid" or "residfp"; fast: interpolation with fast sampling
    // (sidplayfp's -rif), else resampling (sidplayfp's default).
    Engine(const std::string &emulation, unsigned int frequency, bool fast, bool stereo)
    {
        if (emulation == "resid") {
            auto *builder = new ReSIDBuilder("ReSID");
            builder_.reset(builder);
            builder->create(player_.info().maxsids());
            builder->filter(true);
            builder->bias(0.5);  // sidplayfp.ini's FilterBias default
        } else if (emulation == "residfp") {
            auto *builder = new ReSIDfpBuilder("ReSIDfp");
            builder_.reset(builder);
            builder->create(player_.info().maxsids());
            builder->filter(true);
            builder->filter6581Curve(0.5);  // sidplayfp.ini's FilterCurve6581 default
            builder->filter8580Curve(0.5);  // sidplayfp.ini's FilterCurve8580 default
        } else {
            throw std::invalid_argument("emulation must be 'resid' or 'residfp', not '" + emulation + "'");
        }
        if (!builder_->getStatus()) {
            throw std::runtime_error(std::string("cannot create the SID emulation: ") + builder_->error());
        }
        config_.frequency = frequency;
        config_.playback = stereo ? SidConfig::STEREO : SidConfig::MONO;
        config_.samplingMethod = fast ? SidConfig::INTERPOLATE : SidConfig::RESAMPLE_INTERPOLATE;
        config_.fastSampling = fast;
        config_.sidEmulation = builder_.get();
        // As sidplayfp does with its defaults: PAL and 6581 unless the tune says
        // otherwise, and no random power-on delay (runs are then reproducible).
        config_.defaultC64Model = SidConfig::PAL;
        config_.forceC64Model = false;
        config_.defaultSidModel = SidConfig::MOS6581;
        config_.forceSidModel = false;
        config_.ciaModel = SidConfig::MOS6526;
        config_.digiBoost = false;
        config_.powerOnDelay = 0;
        channels_ = stereo ? 2 : 1;
    }

    ~Engine()
    {
        player_.load(nullptr);
        tune_.reset();
    }

    // Loads a tune from its file's bytes and selects a song (0 = the start song).
    // Returns what libsidplayfp read from the header; raises ValueError on a bad tune.
    py::dict load(py::bytes data, unsigned int song)
    {
        std::string raw = data;
        player_.load(nullptr);
        // libsidplayfp 2.4 dithers its output with the C library's rand(); a fresh
        // sidplayfp process starts from glibc's default seed, so seeding it here makes
        // every song's render equal the program's, whatever ran in this process before.
        std::srand(1);
        tune_ = std::make_unique<SidTune>(reinterpret_cast<const uint_least8_t *>(raw.data()),
                                          static_cast<uint_least32_t>(raw.size()));
        if (!tune_->getStatus()) {
            std::string why = tune_->statusString();
            tune_.reset();
            throw py::value_error(why);
        }
        const unsigned int selected = tune_->selectSong(song);
        if (!player_.config(config_) || !player_.load(tune_.get())) {
            std::string why = player_.error();
            player_.load(nullptr);
            tune_.reset();
            throw py::value_error(why);
        }
        const SidTuneInfo *info = tune_->getInfo();
        py::dict out;
        out["songs"] = info->songs();
        out["start_song"] = info->startSong();
        out["song"] = selected;
        out["sid_chips"] = info->sidChips();
        std::vector<int> bases;
        std::vector<int> models;
        for (int i = 0; i < info->sidChips(); ++i) {
            bases.push_back(info->sidChipBase(i));
            models.push_back(static_cast<int>(info->sidModel(i)));
        }
        out["sid_bases"] = bases;
        out["sid_models"] = models;  // SidTuneInfo::model_t: 0 unknown, 1 6581, 2 8580, 3 any
        out["clock"] = static_cast<int>(info->clockSpeed());  // 0 unknown, 1 PAL, 2 NTSC, 3 any
        out["compatibility"] = static_cast<int>(info->compatibility());
        out["song_speed"] = info->songSpeed();
        out["format"] = std::string(info->formatString());
        out["speed"] = std::string(player_.info().speedString());
        return out;
    }

    // Emulates until `frames` sample frames exist, calling the engine `step` frames at
    // a time and snapshotting every SID's registers (and CIA 1 timer A) after each
    // call. Returns (samples int16 [frames*channels], regs uint8 [n, sids, 25],
    // frame_at uint32 [n], cia_timer_a uint16 [n]).
    py::tuple play(unsigned int frames, unsigned int step)
    {
        if (!tune_) {
            throw std::runtime_error("no tune loaded");
        }
        if (step == 0) {
            throw std::invalid_argument("step must be > 0");
        }
        const int sids = tune_->getInfo()->sidChips();
        const size_t total = static_cast<size_t>(frames) * channels_;
        py::array_t<int16_t> samples(total);
        std::vector<uint8_t> regs;
        std::vector<uint32_t> frame_at;
        std::vector<uint16_t> timer;
        bool stalled = false;
        {
            py::gil_scoped_release release;
            int16_t *out = samples.mutable_data();
            size_t done = 0;
            uint8_t status[32];
            while (done < total) {
                const size_t want = std::min(static_cast<size_t>(step) * channels_, total - done);
                const uint_least32_t got = player_.play(out + done, static_cast<uint_least32_t>(want));
                if (got == 0) {
                    stalled = true;
                    break;
                }
                done += got;
                for (int s = 0; s < sids && s < kMaxSids; ++s) {
                    if (!player_.getSidStatus(s, status)) {
                        for (int r = 0; r < 32; ++r) status[r] = 0;
                    }
                    regs.insert(regs.end(), status, status + kTraceRegisters);
                }
                frame_at.push_back(static_cast<uint32_t>(done / channels_));
                timer.push_back(player_.getCia1TimerA());
            }
        }
        if (stalled) {
            throw std::runtime_error(std::string("the emulator stopped producing audio: ") + player_.error());
        }
        const size_t n = frame_at.size();
        const size_t width = static_cast<size_t>(std::min(sids, kMaxSids));
        py::array_t<uint8_t> regs_out({n, width, static_cast<size_t>(kTraceRegisters)});
        std::copy(regs.begin(), regs.end(), regs_out.mutable_data());
        py::array_t<uint32_t> frame_out(n);
        std::copy(frame_at.begin(), frame_at.end(), frame_out.mutable_data());
        py::array_t<uint16_t> timer_out(n);
        std::copy(timer.begin(), timer.end(), timer_out.mutable_data());
        return py::make_tuple(samples, regs_out, frame_out, timer_out);
    }

  private:
    // First member: set before the player below allocates anything.
    const bool fresh_heap_ = zero_fresh_blocks();
    sidplayfp player_;
    std::unique_ptr<sidbuilder> builder_;
    std::unique_ptr<SidTune> tune_;
    SidConfig config_;
    unsigned int channels_ = 1;
};

}  // namespace

PYBIND11_MODULE(_libsidplayfp, m)
{
    m.doc() = "libsidplayfp, in process: see sidflow_pipeline/sid/engine.py";
    m.attr("LIBSIDPLAYFP_VERSION") = std::to_string(LIBSIDPLAYFP_VERSION_MAJ) + "." +
                                     std::to_string(LIBSIDPLAYFP_VERSION_MIN) + "." +
                                     std::to_string(LIBSIDPLAYFP_VERSION_LEV);
    m.attr("TRACE_REGISTERS") = kTraceRegisters;
    py::class_<Engine>(m, "Engine")
        .def(py::init<const std::string &, unsigned int, bool, bool>(), py::arg("emulation"),
             py::arg("frequency"), py::arg("fast"), py::arg("stereo") = false)
        .def("load", &Engine::load, py::arg("data"), py::arg("song"))
        .def("play", &Engine::play, py::arg("frames"), py::arg("step"));
}
