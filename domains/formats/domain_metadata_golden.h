// Test-only: the reference's v5 domain metadata example, as golden bytes,
// shared by the format's tests (formats/domain_metadata_test.cc) and the
// typed metadata's (sd_metadata_test.cc).
#ifndef SANPOOL_DOMAINS_FORMATS_DOMAIN_METADATA_GOLDEN_H_
#define SANPOOL_DOMAINS_FORMATS_DOMAIN_METADATA_GOLDEN_H_

namespace sanpool::formats::testing {

// The example's domain and pool UUIDs (SDUUID, POOL_UUID below).
inline constexpr char kSd[] = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d";
inline constexpr char kSp[] = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716";

// Golden bytes: the reference's v5 example (an NFS data domain "nfs1" on
// srv:/exp); the seal was computed with Python's hashlib exactly as oVirt's
// persistent._calc_checksum does.
inline constexpr char kGoldenV5[] =
    "ALIGNMENT=1048576\n"
    "BLOCK_SIZE=512\n"
    "CLASS=Data\n"
    "DESCRIPTION=nfs1\n"
    "IOOPTIMEOUTSEC=10\n"
    "LEASERETRIES=3\n"
    "LEASETIMESEC=60\n"
    "LOCKPOLICY=\n"
    "LOCKRENEWALINTERVALSEC=5\n"
    "POOL_UUID=5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716\n"
    "REMOTE_PATH=srv:/exp\n"
    "ROLE=Regular\n"
    "SDUUID=9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d\n"
    "TYPE=NFS\n"
    "VERSION=5\n"
    "_SHA_CKSUM=307a0f42f1a15059263503329523d6036ea8ff3a\n";

}  // namespace sanpool::formats::testing

#endif  // SANPOOL_DOMAINS_FORMATS_DOMAIN_METADATA_GOLDEN_H_
