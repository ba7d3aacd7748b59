/* The i8042 keyboard controller (devices/i8042.c): what other parts may ask of it. */
#ifndef LODGE_DEVICES_I8042_H
#define LODGE_DEVICES_I8042_H

struct vm;

/*
 * Type Ctrl+Alt+Del on the guest's keyboard (Firecracker's SendCtrlAltDel);
 * any thread. 0, or -ENODEV when the VM has no i8042.
 */
int i8042_send_ctrl_alt_del(struct vm *vm);

#endif
