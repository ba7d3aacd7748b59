/*
 * Local APIC (xAPIC MMIO at 0xfee00000) and IOAPIC (0xfec00000).
 * The LAPIC timer is assumed to count at the 1 GHz APIC bus frequency of
 * KVM's and QEMU's LAPIC (divide by 1); lapic_udelay relies on that.
 */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_BASE   0xfee00000ULL
#define IOAPIC_BASE  0xfec00000ULL
#define LAPIC_TIMER_HZ 1000000000ULL

/* Software-enable this CPU's LAPIC (spurious vector 0xff), mask LINT0/1 and the timer. */
void lapic_init(void);

/* This CPU's APIC ID. */
unsigned lapic_id(void);

/* Signal end of interrupt. */
void lapic_eoi(void);

/* Send INIT, then SIPI with start page (vector), to (apic_id); false if delivery stays pending. */
bool lapic_send_init(unsigned apic_id);
bool lapic_send_sipi(unsigned apic_id, uint8_t vector);

/* Send fixed interrupt (vector) to (apic_id). */
void lapic_send_ipi(unsigned apic_id, uint8_t vector);

/*
 * LAPIC timer, divide by 1: (count) bus cycles until the interrupt on
 * (vector); periodic reloads (count) each time. lapic_timer_stop masks it.
 */
void lapic_timer_oneshot(uint8_t vector, uint32_t count);
void lapic_timer_periodic(uint8_t vector, uint32_t count);
void lapic_timer_stop(void);
uint32_t lapic_timer_current(void);

/* Busy-wait (us) microseconds using the LAPIC timer (masked, one-shot): stops the timer. */
void lapic_udelay(uint32_t us);

/* Number of redirection entries of the IOAPIC. */
unsigned ioapic_pins(void);

/*
 * Route IOAPIC (pin) to (vector) on (apic_id), fixed delivery, physical
 * destination; (level) selects level-triggered, (low) active-low.
 */
void ioapic_route(unsigned pin, uint8_t vector, unsigned apic_id, bool level, bool low);
void ioapic_mask(unsigned pin);

/* Mask both legacy 8259 PICs (harmless where there are none). */
void pic_disable(void);

#endif
