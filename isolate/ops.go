package isolate

// #include "ops.h"
import "C"

// The stage's op codes, from ops.h: the C stage and this planner share
// one list.
const (
	opUnshare     = C.OP_UNSHARE
	opMount       = C.OP_MOUNT
	opUmount      = C.OP_UMOUNT
	opSethostname = C.OP_SETHOSTNAME
	opWrite       = C.OP_WRITE
	opWriteFD     = C.OP_WRITEFD
	opMkdir       = C.OP_MKDIR
	opCreate      = C.OP_CREATE
	opSymlink     = C.OP_SYMLINK
	opChdir       = C.OP_CHDIR
	opPivot       = C.OP_PIVOT
	opLinkUp      = C.OP_LINKUP
	opPrctl       = C.OP_PRCTL
	opSetgroups   = C.OP_SETGROUPS
	opSetresgid   = C.OP_SETRESGID
	opSetresuid   = C.OP_SETRESUID
	opCapset      = C.OP_CAPSET
	opClearInh    = C.OP_CLEARINH
	opAmbient     = C.OP_AMBIENT
	opExec        = C.OP_EXEC
	opExecFork    = C.OP_EXECFORK
	opRootFD      = C.OP_ROOTFD
	opMountIn     = C.OP_MOUNTIN
	opMkdirIn     = C.OP_MKDIRIN
	opCreateIn    = C.OP_CREATEIN
	opSymlinkIn   = C.OP_SYMLINKIN
	opExecGuard   = C.OP_EXECGUARD
	opSeccomp     = C.OP_SECCOMP
	opProbe       = C.OP_PROBE
	opMaskIn      = C.OP_MASKIN
	opReadonlyIn  = C.OP_READONLYIN
)
