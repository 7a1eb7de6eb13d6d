/**
 * The smallest disk that proves a booted machine writes to its iSCSI disk: one 512-byte MBR boot
 * sector, hand-assembled 16-bit real-mode code (listing below), that
 *   1. copies itself to the disk's second sector (LBA 1) with BIOS INT 13h AH=03h (CHS write,
 *      cylinder 0 / head 0 / sector 2, DL = the boot drive as iPXE's sanboot passes it),
 *   2. prints MARKER_OK (or MARKER_FAILED when the BIOS call sets CF) to COM1 (port 0x3F8),
 *   3. halts.
 * So after the boot, sector 1 of the machine's disk holds the marker string; the image's own
 * sector 1 is zeros. No assembler, kernel or initramfs needed; under TCG the whole boot (iPXE ROM,
 * DHCP, HTTP script, iSCSI login, the write) takes a few seconds.
 *
 *   0x00 FA             cli
 *   0x01 31 C0          xor  ax, ax
 *   0x03 8E D8          mov  ds, ax
 *   0x05 8E C0          mov  es, ax
 *   0x07 8E D0          mov  ss, ax
 *   0x09 BC 00 7C       mov  sp, 0x7c00
 *   0x0C FB             sti
 *   0x0D BB 00 7C       mov  bx, 0x7c00        ; ES:BX = this sector
 *   0x10 B8 01 03       mov  ax, 0x0301        ; AH=03 write, AL=1 sector
 *   0x13 B9 02 00       mov  cx, 0x0002        ; CH=0 cylinder, CL=2 sector
 *   0x16 B6 00          mov  dh, 0             ; head 0 (DL: boot drive, untouched)
 *   0x18 CD 13          int  0x13
 *   0x1A BE 30 7C       mov  si, ok_msg
 *   0x1D 73 03          jnc  0x22
 *   0x1F BE 50 7C       mov  si, fail_msg
 *   0x22 BA F8 03       mov  dx, 0x3f8
 *   0x25 AC             lodsb
 *   0x26 84 C0          test al, al
 *   0x28 74 03          jz   0x2d
 *   0x2A EE             out  dx, al
 *   0x2B EB F8          jmp  0x25
 *   0x2D F4             hlt
 *   0x2E EB FD          jmp  0x2d
 *   0x30 ok_msg, 0x50 fail_msg, 0x1FE 55 AA
 */
export const MARKER_OK = 'SLIPWAY-MARKER-WRITTEN';
export const MARKER_FAILED = 'SLIPWAY-MARKER-FAILED';

export function markerBootSector(): Buffer {
  const code = [
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0xfb,
    0xbb, 0x00, 0x7c, 0xb8, 0x01, 0x03, 0xb9, 0x02, 0x00, 0xb6, 0x00, 0xcd, 0x13,
    0xbe, 0x30, 0x7c, 0x73, 0x03, 0xbe, 0x50, 0x7c, 0xba, 0xf8, 0x03,
    0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd,
  ];
  const s = Buffer.alloc(512);
  Buffer.from(code).copy(s, 0);
  if (code.length !== 0x30) throw new Error('marker boot sector: code length changed, fix the offsets');
  s.write(`${MARKER_OK}\r\n\0`, 0x30, 'latin1');
  s.write(`${MARKER_FAILED}\r\n\0`, 0x50, 'latin1');
  s[510] = 0x55;
  s[511] = 0xaa;
  return s;
}
