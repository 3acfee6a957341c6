// Recorded lvm2 2.03.16 output (Debian 12), captured on loop devices with
// the exact field lists of lvm_report.h, for tests that replay lvm through
// FakeProcessRunner. VG h4test: PVs /dev/loop0 (VG metadata, mda_used 2) and
// /dev/loop1 (128 MiB extents, pe_start 129 MiB); /dev/loop2 is a PV in no
// VG; LV vol1 spans both PVs in three segments.
#ifndef SANPOOL_DOMAINS_BLOCK_LVM_TESTDATA_H_
#define SANPOOL_DOMAINS_BLOCK_LVM_TESTDATA_H_

#include <string_view>

namespace sanpool::lvm::testdata {

inline constexpr std::string_view kLvsJson = R"json(  {
      "report": [
          {
              "seg": [
                  {"lv_uuid":"nZRojQ-4UxA-tBqk-TxSm-MqyT-exaK-38N1Ei", "lv_name":"metadata", "vg_name":"h4test", "lv_attr":"-wi-XX----", "lv_size":"134217728", "vg_extent_size":"134217728", "lv_tags":"MD_1", "segtype":"linear", "stripes":"1", "seg_start_pe":"0", "seg_size_pe":"1", "seg_pe_ranges":"/dev/loop0:0-0"},
                  {"lv_uuid":"YVw2kR-Xv9I-rq3V-LuYG-pbJM-tWRb-JRJCme", "lv_name":"vol1", "vg_name":"h4test", "lv_attr":"-wi-XX----", "lv_size":"2147483648", "vg_extent_size":"134217728", "lv_tags":"IU_x,PU_00000000-0000-0000-0000-000000000000", "segtype":"linear", "stripes":"1", "seg_start_pe":"0", "seg_size_pe":"3", "seg_pe_ranges":"/dev/loop0:1-3"},
                  {"lv_uuid":"YVw2kR-Xv9I-rq3V-LuYG-pbJM-tWRb-JRJCme", "lv_name":"vol1", "vg_name":"h4test", "lv_attr":"-wi-XX----", "lv_size":"2147483648", "vg_extent_size":"134217728", "lv_tags":"IU_x,PU_00000000-0000-0000-0000-000000000000", "segtype":"linear", "stripes":"1", "seg_start_pe":"3", "seg_size_pe":"8", "seg_pe_ranges":"/dev/loop0:5-12"},
                  {"lv_uuid":"YVw2kR-Xv9I-rq3V-LuYG-pbJM-tWRb-JRJCme", "lv_name":"vol1", "vg_name":"h4test", "lv_attr":"-wi-XX----", "lv_size":"2147483648", "vg_extent_size":"134217728", "lv_tags":"IU_x,PU_00000000-0000-0000-0000-000000000000", "segtype":"linear", "stripes":"1", "seg_start_pe":"11", "seg_size_pe":"5", "seg_pe_ranges":"/dev/loop1:0-4"},
                  {"lv_uuid":"5dkzN0-QrQs-Ab6E-DCVc-ExB7-eL5e-e5pN0L", "lv_name":"vol2", "vg_name":"h4test", "lv_attr":"-wi-XX----", "lv_size":"134217728", "vg_extent_size":"134217728", "lv_tags":"", "segtype":"linear", "stripes":"1", "seg_start_pe":"0", "seg_size_pe":"1", "seg_pe_ranges":"/dev/loop0:4-4"}
              ]
          }
      ]
  }
)json";

inline constexpr std::string_view kPvsJson = R"json(  {
      "report": [
          {
              "pv": [
                  {"pv_uuid":"avdS97-deps-Mwqd-4iiT-InBd-PNAF-pG32g1", "pv_name":"/dev/loop0", "pv_size":"1744830464", "vg_name":"h4test", "vg_uuid":"5o1RgC-BKKZ-qzn5-pSf5-QDs8-a0vY-wKXWAY", "pe_start":"135266304", "pv_pe_count":"13", "pv_pe_alloc_count":"13", "pv_mda_count":"2", "dev_size":"2147483648", "pv_mda_used_count":"2", "pv_mda_size":"134217728", "pv_mda_free":"67105280", "pv_tags":""},
                  {"pv_uuid":"r8yKob-XZvB-LaG4-ETpk-Mede-W0wz-2tPlFi", "pv_name":"/dev/loop1", "pv_size":"1744830464", "vg_name":"h4test", "vg_uuid":"5o1RgC-BKKZ-qzn5-pSf5-QDs8-a0vY-wKXWAY", "pe_start":"135266304", "pv_pe_count":"13", "pv_pe_alloc_count":"5", "pv_mda_count":"2", "dev_size":"2147483648", "pv_mda_used_count":"0", "pv_mda_size":"134217728", "pv_mda_free":"0", "pv_tags":""},
                  {"pv_uuid":"y2Kvfs-EiGR-jubG-e1Ns-byPl-tazy-ML3ufZ", "pv_name":"/dev/loop2", "pv_size":"1073741824", "vg_name":"", "vg_uuid":"", "pe_start":"1048576", "pv_pe_count":"0", "pv_pe_alloc_count":"0", "pv_mda_count":"1", "dev_size":"1073741824", "pv_mda_used_count":"1", "pv_mda_size":"1044480", "pv_mda_free":"521216", "pv_tags":""}
              ]
          }
      ]
  }
)json";

inline constexpr std::string_view kVgsJson = R"json(  {
      "report": [
          {
              "vg": [
                  {"vg_uuid":"5o1RgC-BKKZ-qzn5-pSf5-QDs8-a0vY-wKXWAY", "vg_name":"h4test", "vg_attr":"wz--n-", "vg_size":"3489660928", "vg_free":"1073741824", "vg_extent_size":"134217728", "vg_extent_count":"26", "vg_free_count":"8", "vg_tags":"RHAT_storage_domain_UNREADY", "vg_mda_size":"134217728", "vg_mda_free":"67105280", "lv_count":"3", "pv_count":"2", "pv_name":"/dev/loop0"},
                  {"vg_uuid":"5o1RgC-BKKZ-qzn5-pSf5-QDs8-a0vY-wKXWAY", "vg_name":"h4test", "vg_attr":"wz--n-", "vg_size":"3489660928", "vg_free":"1073741824", "vg_extent_size":"134217728", "vg_extent_count":"26", "vg_free_count":"8", "vg_tags":"RHAT_storage_domain_UNREADY", "vg_mda_size":"134217728", "vg_mda_free":"67105280", "lv_count":"3", "pv_count":"2", "pv_name":"/dev/loop1"}
              ]
          }
      ]
  }
)json";

inline constexpr std::string_view kStderrLvExists = R"err(  WARNING: Activation disabled. No device-mapper interaction will be attempted.
  Logical Volume "vol2" already exists in volume group "h4test"
)err";
inline constexpr std::string_view kStderrExtendVgFull = R"err(  WARNING: Activation disabled. No device-mapper interaction will be attempted.
  Insufficient free space: 799 extents needed, but only 9 available
)err";
inline constexpr std::string_view kStderrCreateVgFull = R"err(  WARNING: Activation disabled. No device-mapper interaction will be attempted.
  Volume group "h4test" has insufficient free space (9 extents): 800 required.
)err";
inline constexpr std::string_view kStderrLvNotFoundExtend = R"err(  WARNING: Activation disabled. No device-mapper interaction will be attempted.
  Logical volume nope not found in volume group h4test.
)err";
inline constexpr std::string_view kStderrLvNotFound = R"err(  Failed to find logical volume "h4test/nope"
)err";
inline constexpr std::string_view kStderrVgNotFound = R"err(  Volume group "nosuchvg" not found
  Cannot process volume group nosuchvg
)err";
inline constexpr std::string_view kStderrVgExists = R"err(  A volume group called h4test already exists.
)err";
inline constexpr std::string_view kStderrNoDevice = R"err(  No device found for /dev/loop99.
)err";
inline constexpr std::string_view kStderrDeviceFiltered = R"err(  Cannot use /dev/loop7: device is rejected by filter config
)err";
inline constexpr std::string_view kStderrPvInUse = R"err(  Can't initialize physical volume "/dev/loop0" of volume group "h4test" without -ff
  /dev/loop0: physical volume not initialized.
)err";
inline constexpr std::string_view kStderrNotLarger = R"err(  WARNING: Activation disabled. No device-mapper interaction will be attempted.
  New size given (1 extents) not larger than existing size (15 extents)
)err";
inline constexpr std::string_view kStderrSameSize = R"err(  WARNING: Activation disabled. No device-mapper interaction will be attempted.
  New size (1 extents) matches existing size (1 extents).
)err";
inline constexpr std::string_view kStderrMetadataFull = R"err(  WARNING: Activation disabled. No device-mapper interaction will be attempted.
  VG h4mda 2 metadata on /dev/loop2 (1516642 bytes) exceeds maximum metadata size (1045760 bytes)
  WARNING: Failed to write an MDA of VG h4mda.
  Failed to write VG h4mda.
)err";
inline constexpr std::string_view kStderrBadTag = R"err(  Invalid argument for --addtag: a b
  Error during parsing of command line.
)err";

}  // namespace sanpool::lvm::testdata

#endif  // SANPOOL_DOMAINS_BLOCK_LVM_TESTDATA_H_
