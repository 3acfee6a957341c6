// ImageCopier against real qemu-img on two scratch file domains; qemu-img
// convert is replaced by FakeProcessRunner where a test scripts progress,
// failure or cancellation.
#include "domains/file/image_copy.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/fake_process.h"
#include "domains/file/file_test_util.h"
#include "domains/file/fs_util.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {
namespace {

using formats::Allocation;
using formats::Legality;
using formats::VolumeFormat;
using formats::VolumeRole;
using testing::kImg;
using testing::kImg2;
using testing::kSd;
using testing::kVol1;
using testing::kVol2;
using testing::kVol3;

constexpr char kSd2[] = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2e";
constexpr char kTplImg[] = "1a2b3c4d-0000-4000-8000-0000000000f1";
constexpr char kTplVol[] = "1a2b3c4d-0000-4000-8000-0000000000f2";
constexpr int64_t kCap = 4 << 20;

// One domain of the fixture.
struct Side {
  std::unique_ptr<FileDomain> domain;
  std::unique_ptr<ImageLocks> locks;
  std::unique_ptr<FileVolumes> volumes;
  CopyEndpoint At(const char* img) const {
    return {.domain = domain.get(), .volumes = volumes.get(), .img = img};
  }
};

class CopyFixture {
 public:
  CopyFixture() {
    REQUIRE(env_->CreateDir(mount_, 0755).ok());
    src_ = MakeSide(kSd);
    dst_ = MakeSide(kSd2);
  }

  Side MakeSide(const char* sd) {
    CreateDomainParams params;
    params.sd_uuid = sd;
    params.type = DomainType::kLocalFs;
    params.description = "copy test";
    params.remote_path = mount_;
    auto domain = FileDomain::Create(*env_, clock_, mount_, params);
    REQUIRE(domain.ok());
    Side side;
    side.domain = std::move(*domain);
    side.locks = std::make_unique<ImageLocks>(resources_, sd);
    side.volumes =
        std::make_unique<FileVolumes>(*side.domain, qemu_img_, *side.locks);
    return side;
  }

  // A raw template volume (VOLTYPE SHARED) with data at 0.
  void MakeTemplate(Side& side) {
    Create(side, kTplImg, kTplVol, VolumeFormat::kRaw);
    Write(side, kTplImg, kTplVol, "raw", "write -P 0xcc 0 64k");
    auto md = side.volumes->GetMetadata(kTplImg, kTplVol);
    REQUIRE(md.ok());
    md->role = VolumeRole::kShared;
    REQUIRE(WriteVolumeMeta(*env_, side.domain->layout()
                                       .Volume(kTplImg, kTplVol)->meta,
                            *md)
                .ok());
  }

  void Create(Side& side, const char* img, const char* vol,
              VolumeFormat format, const char* parent = nullptr,
              const char* parent_img = nullptr) {
    CreateVolumeParams p;
    p.img_uuid = img;
    p.vol_uuid = vol;
    p.capacity = kCap;
    p.format = format;
    p.description = std::string("vol ") + vol;
    if (parent != nullptr) p.src_vol_uuid = parent;
    if (parent_img != nullptr) p.src_img_uuid = parent_img;
    Status st = side.volumes->Create(p);
    INFO(st.ToString());
    REQUIRE(st.ok());
  }

  std::string DataPath(const Side& side, const char* img, const char* vol) {
    return side.domain->layout().Volume(img, vol)->data;
  }

  ProcessResult Tool(std::vector<std::string> argv) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    Result<ProcessResult> r = real_runner_.Run(spec);
    REQUIRE(r.ok());
    return *r;
  }
  void Write(const Side& side, const char* img, const char* vol,
             const char* fmt, const std::string& cmd) {
    ProcessResult r = Tool({"/usr/bin/qemu-io", "-f", fmt, "-c", cmd,
                            DataPath(side, img, vol)});
    INFO(r.stderr_data);
    REQUIRE(r.Succeeded());
  }
  // A raw base with data at 0 and a qcow2 top with data at 1 MiB.
  void MakeSourceChain() {
    Create(src_, kImg, kVol1, VolumeFormat::kRaw);
    Write(src_, kImg, kVol1, "raw", "write -P 0xaa 0 64k");
    Create(src_, kImg, kVol2, VolumeFormat::kCow, kVol1);
    Write(src_, kImg, kVol2, "qcow2", "write -P 0xbb 1M 64k");
  }
  // qemu-img compare of two chains' contents.
  bool SameContent(const std::string& a, const char* fa, const std::string& b,
                   const char* fb) {
    return Tool({"/usr/bin/qemu-img", "compare", "-f", fa, "-F", fb, a, b})
               .exit_code == 0;
  }

  Status Copy(ProcessRunner& runner, const CopyEndpoint& src,
              const CopyEndpoint& dst, CopyOptions options,
              const CancellationToken& cancel = {}) {
    ImageCopier copier(runner, resources_);
    return copier.Copy(src, dst, options,
                       [this](double p) { progress_.push_back(p); }, cancel);
  }

  std::map<std::string, std::string> DstTree() const {
    return testing::SnapshotTree(mount_ + "/" + kSd2);
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  FakeClock clock_;
  PosixProcessRunner real_runner_;
  QemuImg qemu_img_{real_runner_};
  testing::ScratchDir scratch_;
  std::string mount_ = scratch_.path() + "/mnt";
  ResourceManager resources_{clock_};
  Side src_;
  Side dst_;
  std::vector<double> progress_;
};

bool NonDecreasing(const std::vector<double>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] < v[i - 1]) return false;
  }
  return true;
}

TEST_CASE("ParseQemuImgProgress reads the last complete value",
          "[image_copy]") {
  CHECK(ParseQemuImgProgress("    (0.00/100%)\r    (12.34/100%)\r") ==
        Approx(12.34));
  CHECK(ParseQemuImgProgress("    (100.00/100%)\r") == Approx(100));
  CHECK(ParseQemuImgProgress("    (12.3") == -1);
  CHECK(ParseQemuImgProgress("garbage (x/100%)") == -1);
  CHECK(ParseQemuImgProgress("") == -1);
}

TEST_CASE("ConvertArgv: existing target, backing only when given",
          "[image_copy]") {
  CopyOptions options;
  ImageCopier::ConvertStep step{.source = "/s/a",
                                .source_format = VolumeFormat::kCow,
                                .target = "/d/a",
                                .target_format = VolumeFormat::kCow,
                                .backing = "base-uuid",
                                .backing_format = VolumeFormat::kRaw};
  CHECK(ImageCopier::ConvertArgv(step, options) ==
        std::vector<std::string>{"/usr/bin/qemu-img", "convert", "-p", "-t",
                                 "none", "-T", "none", "-f", "qcow2", "-O",
                                 "qcow2", "-n", "-B", "base-uuid", "-F",
                                 "raw", "/s/a", "/d/a"});
  step.backing.clear();
  options.cache = CopyCacheMode::kWriteback;
  CHECK(ImageCopier::ConvertArgv(step, options) ==
        std::vector<std::string>{"/usr/bin/qemu-img", "convert", "-p", "-t",
                                 "writeback", "-T", "writeback", "-f",
                                 "qcow2", "-O", "qcow2", "-n", "/s/a",
                                 "/d/a"});
}

TEST_CASE("Preserve-chain copy keeps UUIDs, metadata and backing relations",
          "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeSourceChain();
  Status st = f.Copy(f.real_runner_, f.src_.At(kImg), f.dst_.At(kImg2), {});
  INFO(st.ToString());
  REQUIRE(st.ok());

  auto vols = f.dst_.domain->GetVolumes(kImg2);
  REQUIRE(vols.ok());
  CHECK(*vols == std::vector<std::string>{kVol1, kVol2});
  for (const char* vol : {kVol1, kVol2}) {
    auto s = f.src_.volumes->GetMetadata(kImg, vol);
    auto d = f.dst_.volumes->GetMetadata(kImg2, vol);
    REQUIRE(s.ok());
    REQUIRE(d.ok());
    CHECK(d->legality == Legality::kLegal);
    CHECK(d->format == s->format);
    CHECK(d->capacity == s->capacity);
    CHECK(d->parent == s->parent);
    CHECK(d->role == s->role);
    CHECK(d->description == s->description);
    CHECK(d->image == kImg2);
    CHECK(d->domain == kSd2);
  }
  auto info = f.dst_.volumes->GetQemuImageInfo(kImg2, kVol2);
  REQUIRE(info.ok());
  CHECK(info->backing_filename == kVol1);
  CHECK(f.SameContent(f.DataPath(f.src_, kImg, kVol2), "qcow2",
                      f.DataPath(f.dst_, kImg2, kVol2), "qcow2"));
  // The top holds only its own cluster, not the base's data.
  ProcessResult map = f.Tool({"/usr/bin/qemu-img", "map", "--output", "json",
                              "-f", "qcow2",
                              f.DataPath(f.dst_, kImg2, kVol2)});
  CHECK(map.stdout_data.find("\"start\": 0, \"length\": 65536, \"depth\": 1") !=
        std::string::npos);
  REQUIRE_FALSE(f.progress_.empty());
  CHECK(NonDecreasing(f.progress_));
  CHECK(f.progress_.back() == 100);
}

TEST_CASE("Collapse copy makes one raw volume with the chain's content",
          "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeSourceChain();
  CopyOptions options;
  options.mode = CopyMode::kCollapse;
  options.collapse = {.vol_uuid = kVol3, .format = VolumeFormat::kRaw,
                      .allocation = Allocation::kSparse};
  // Same domain, another image.
  CopyEndpoint dst = f.src_.At(kImg2);
  Status st = f.Copy(f.real_runner_, f.src_.At(kImg), dst, options);
  INFO(st.ToString());
  REQUIRE(st.ok());
  auto vols = f.src_.domain->GetVolumes(kImg2);
  REQUIRE(vols.ok());
  CHECK(*vols == std::vector<std::string>{kVol3});
  auto md = f.src_.volumes->GetMetadata(kImg2, kVol3);
  REQUIRE(md.ok());
  CHECK(md->format == VolumeFormat::kRaw);
  CHECK(md->legality == Legality::kLegal);
  CHECK(md->capacity == static_cast<uint64_t>(kCap));
  CHECK(md->parent == formats::kBlankUuid);
  CHECK(f.SameContent(f.DataPath(f.src_, kImg, kVol2), "qcow2",
                      f.DataPath(f.src_, kImg2, kVol3), "raw"));
}

TEST_CASE("Progress streams per volume, weighted, then 100", "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeSourceChain();
  FakeProcessRunner fake;
  fake.Expect({"/usr/bin/qemu-img", "convert"},
              {.stdout_chunks = {"    (0.00/100%)\r    (50.", "00/100%)\r",
                                 "    (100.00/100%)\r"}},
              FakeProcessRunner::Match::kPrefix);
  REQUIRE(f.Copy(fake, f.src_.At(kImg), f.dst_.At(kImg2), {}).ok());
  CHECK(fake.CallArgvs().size() == 2);
  CHECK(NonDecreasing(f.progress_));
  CHECK(f.progress_.back() == 100);
  // Half of the first volume shows before the first volume ends.
  REQUIRE(f.progress_.size() >= 4);
  CHECK(f.progress_[0] == 0);
  CHECK(f.progress_[1] > 0);  // half of the first (and bigger) volume
  CHECK(f.progress_[1] < 50);
  for (size_t i = 0; i + 1 < f.progress_.size(); ++i) {
    CHECK(f.progress_[i] < 100);
  }
}

TEST_CASE("A failing convert removes everything the copy created",
          "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeSourceChain();
  auto before = f.DstTree();
  FakeProcessRunner fake;
  fake.Expect({"/usr/bin/qemu-img", "convert"}, {}, FakeProcessRunner::Match::kPrefix, 1);
  fake.Expect({"/usr/bin/qemu-img", "convert"},
              {.exit_code = 1, .stderr_data = "qemu-img: write failed: EIO"},
              FakeProcessRunner::Match::kPrefix);
  Status st = f.Copy(fake, f.src_.At(kImg), f.dst_.At(kImg2), {});
  CHECK(st.storage_code() == storage_code::kVolumeCopyError);
  CHECK(f.DstTree() == before);
  CHECK(f.resources_.ResourceCount() == 0);
}

TEST_CASE("Cancelling during the copy cleans up and reports kCancelled",
          "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeSourceChain();
  auto before = f.DstTree();
  FakeProcessRunner fake;
  fake.Expect({"/usr/bin/qemu-img", "convert"},
              {.stdout_chunks = {"    (10.00/100%)\r", "    (20.00/100%)\r",
                                 "    (30.00/100%)\r"}},
              FakeProcessRunner::Match::kPrefix);
  CancellationSource source;
  ImageCopier copier(fake, f.resources_);
  std::vector<double> seen;
  Status st = copier.Copy(
      f.src_.At(kImg), f.dst_.At(kImg2), {},
      [&](double p) {
        seen.push_back(p);
        if (seen.size() == 2) source.Cancel();
      },
      source.Token());
  CHECK(st.code() == Code::kCancelled);
  CHECK(seen.size() == 2);
  CHECK(f.DstTree() == before);
}

TEST_CASE("Copy refuses a destination image with volumes", "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeSourceChain();
  f.Create(f.dst_, kImg2, kVol3, VolumeFormat::kRaw);
  auto before = f.DstTree();
  Status st = f.Copy(f.real_runner_, f.src_.At(kImg), f.dst_.At(kImg2), {});
  CHECK(st.code() == Code::kAlreadyExists);
  CHECK(st.storage_code() == storage_code::kVolumeAlreadyExists);
  CHECK(f.DstTree() == before);
}

TEST_CASE("Copy refuses an illegal source and the same image",
          "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeSourceChain();
  CHECK(f.Copy(f.real_runner_, f.src_.At(kImg), f.src_.At(kImg), {})
            .code() == Code::kInvalidArgument);
  REQUIRE(f.src_.volumes->SetLegality(kImg, kVol1, Legality::kIllegal).ok());
  Status st = f.Copy(f.real_runner_, f.src_.At(kImg), f.dst_.At(kImg2), {});
  CHECK(st.storage_code() == storage_code::kPrepareIllegalVolume);
  CHECK_FALSE(f.dst_.domain->GetVolumes(kImg2).ok());
}

TEST_CASE("A held destination lock times out the copy, which cleans up",
          "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeSourceChain();
  auto before = f.DstTree();
  // The source image held exclusively by another operation: the creates
  // (destination only) proceed, the copy's own lock wait times out.
  auto src_held = f.resources_.Acquire(ImageLockNamespace(kSd), kImg,
                                       LockMode::kExclusive, Duration::zero());
  REQUIRE(src_held.ok());
  CopyOptions options;
  options.lock_timeout = Duration::zero();
  Status st = f.Copy(f.real_runner_, f.src_.At(kImg), f.dst_.At(kImg2),
                     options);
  CHECK(st.code() == Code::kDeadlineExceeded);
  CHECK(f.DstTree() == before);
}

TEST_CASE("Preserve-chain copy of a template child links the destination's "
          "template", "[image_copy]") {
  if (!testing::QemuImgAvailable()) return;
  CopyFixture f;
  f.MakeTemplate(f.src_);
  f.Create(f.src_, kImg, kVol2, VolumeFormat::kCow, kTplVol, kTplImg);
  f.Write(f.src_, kImg, kVol2, "qcow2", "write -P 0xdd 1M 64k");

  SECTION("without the template in the destination: 201, nothing left") {
    auto before = f.DstTree();
    Status st = f.Copy(f.real_runner_, f.src_.At(kImg), f.dst_.At(kImg2), {});
    CHECK(st.storage_code() == storage_code::kVolumeDoesNotExist);
    CHECK(f.DstTree() == before);
  }
  SECTION("with it: only the child is copied, over the linked template") {
    f.MakeTemplate(f.dst_);
    Status st = f.Copy(f.real_runner_, f.src_.At(kImg), f.dst_.At(kImg2), {});
    INFO(st.ToString());
    REQUIRE(st.ok());
    auto vols = f.dst_.domain->GetVolumes(kImg2);
    REQUIRE(vols.ok());
    CHECK(*vols == std::vector<std::string>{kVol2, kTplVol});
    auto tpl = f.env_->Stat(f.DataPath(f.dst_, kImg2, kTplVol));
    REQUIRE(tpl.ok());
    CHECK(tpl->nlink == 2);  // a hard link, not a copy
    CHECK(f.dst_.volumes->GetMetadata(kTplImg, kTplVol)->role ==
          VolumeRole::kShared);
    CHECK(f.SameContent(f.DataPath(f.src_, kImg, kVol2), "qcow2",
                        f.DataPath(f.dst_, kImg2, kVol2), "qcow2"));
  }
  SECTION("a failure removes the child and the template links") {
    f.MakeTemplate(f.dst_);
    auto before = f.DstTree();
    FakeProcessRunner fake;
    fake.Expect({"/usr/bin/qemu-img", "convert"}, {.exit_code = 1},
                FakeProcessRunner::Match::kPrefix);
    CHECK_FALSE(f.Copy(fake, f.src_.At(kImg), f.dst_.At(kImg2), {}).ok());
    CHECK(f.DstTree() == before);
    CHECK(f.dst_.volumes->GetMetadata(kTplImg, kTplVol)->role ==
          VolumeRole::kShared);
  }
}

}  // namespace
}  // namespace sanpool::file_domain
