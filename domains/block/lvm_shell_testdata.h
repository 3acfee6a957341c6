// Recorded output of lvm2 2.03.16's shell (`lvm` reading commands on
// stdin, LVM_COMMAND_PROFILE=lvmdbusd), captured as root on a scratch VG
// "h6vg" (128 MiB extents, 4 GiB loop device /dev/loop0) with LVs lv1
// (512 MiB), lv2 (128 MiB) and lv3 (128 MiB). Each command was
//   lvextend --config '<LvmConfig({"/dev/loop0"})>' --driverloaded n
//       --autobackup n --size <N>m h6vg/<lv>
// followed by `lastlog`.
#ifndef SANPOOL_DOMAINS_BLOCK_LVM_SHELL_TESTDATA_H_
#define SANPOOL_DOMAINS_BLOCK_LVM_SHELL_TESTDATA_H_

#include <string_view>

namespace sanpool::lvm::testdata {

// Four commands: lv1 to 640m (grew), lv2 to 128m (already that size),
// lv3 to 99999m (VG full), nolv to 256m (no such LV).
inline constexpr std::string_view kShellFourExtends = R"json(  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"6", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"success", "log_errno":"0", "log_ret_code":"1"}
      ]
  }
  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"2", "log_type":"print", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"Size of logical volume h6vg/lv1 changed from 536870912 (4 extents) to 671088640 (5 extents).", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"3", "log_type":"print", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"Logical volume h6vg/lv1 successfully resized.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"4", "log_type":"status", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"success", "log_errno":"0", "log_ret_code":"1"},
          {"log_seq_num":"5", "log_type":"warn", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: This metadata update is NOT backed up.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"6", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"success", "log_errno":"0", "log_ret_code":"1"}
      ]
  }
  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"4", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"0", "log_ret_code":"5"}
      ]
  }
  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"2", "log_type":"error", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"New size (1 extents) matches existing size (1 extents).", "log_errno":"-1", "log_ret_code":"0"},
          {"log_seq_num":"3", "log_type":"status", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"-1", "log_ret_code":"5"},
          {"log_seq_num":"4", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"0", "log_ret_code":"5"}
      ]
  }
  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"5", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"0", "log_ret_code":"5"}
      ]
  }
  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"2", "log_type":"print", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"Rounding size to boundary between physical extents: 104958263296.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"3", "log_type":"error", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"Insufficient free space: 781 extents needed, but only 24 available", "log_errno":"-1", "log_ret_code":"0"},
          {"log_seq_num":"4", "log_type":"status", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"-1", "log_ret_code":"5"},
          {"log_seq_num":"5", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"0", "log_ret_code":"5"}
      ]
  }
  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"4", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"0", "log_ret_code":"5"}
      ]
  }
  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"2", "log_type":"error", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"Logical volume nolv not found in volume group h6vg.", "log_errno":"-1", "log_ret_code":"0"},
          {"log_seq_num":"3", "log_type":"status", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"-1", "log_ret_code":"5"},
          {"log_seq_num":"4", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"failure", "log_errno":"0", "log_ret_code":"5"}
      ]
  }

  {
      "log": [
      ]
  }
)json";

// One command (lv1 to 640m, grew): the first command's two reports and
// the shell's empty one at exit.
inline constexpr std::string_view kShellOneExtend = R"json(  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"6", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"success", "log_errno":"0", "log_ret_code":"1"}
      ]
  }
  {
      "log": [
          {"log_seq_num":"1", "log_type":"warn", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: Activation disabled. No device-mapper interaction will be attempted.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"2", "log_type":"print", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"Size of logical volume h6vg/lv1 changed from 536870912 (4 extents) to 671088640 (5 extents).", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"3", "log_type":"print", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"Logical volume h6vg/lv1 successfully resized.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"4", "log_type":"status", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"success", "log_errno":"0", "log_ret_code":"1"},
          {"log_seq_num":"5", "log_type":"warn", "log_context":"processing", "log_object_type":"vg", "log_object_name":"h6vg", "log_object_id":"MH0s1c-1VX7-Fcsc-KUGN-m7h3-qvkR-k6FbHx", "log_object_group":"", "log_object_group_id":"", "log_message":"WARNING: This metadata update is NOT backed up.", "log_errno":"0", "log_ret_code":"0"},
          {"log_seq_num":"6", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"lvextend", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"success", "log_errno":"0", "log_ret_code":"1"}
      ]
  }

  {
      "log": [
      ]
  }
)json";

}  // namespace sanpool::lvm::testdata

#endif  // SANPOOL_DOMAINS_BLOCK_LVM_SHELL_TESTDATA_H_
