package ratelimit

import "strings"

// slotRuns splits keys into runs of the same cluster hash slot and returns
// their lengths. SCAN on a cluster node walks one slot's table at a time, so
// its keys come in such runs (about 60 keys each with a million keys on
// three primaries); a key whose slot changes mid-run only starts a new run.
func slotRuns(keys []string) []int {
	var runs []int
	var last uint16
	for i, k := range keys {
		s := HashSlot(k)
		if i > 0 && s == last {
			runs[len(runs)-1]++
			continue
		}
		runs = append(runs, 1)
		last = s
	}
	return runs
}

// HashSlot is the Valkey Cluster hash slot of key: CRC16 (XMODEM) of the
// key, or of its hash tag (the text between the first '{' and the next '}',
// when not empty), modulo 16384.
func HashSlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) & 16383
}

// crc16 is CRC16-XMODEM, two bytes a step: the two table lookups of a step
// do not wait for each other (crc16tab2[x] is crc16tab's step applied twice).
func crc16(key string) uint16 {
	var crc uint16
	i := 0
	for ; i+1 < len(key); i += 2 {
		crc = crc16tab2[byte(crc>>8)^key[i]] ^ crc16tab[byte(crc)^key[i+1]]
	}
	if i < len(key) {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^key[i]]
	}
	return crc
}

var crc16tab2 = func() (t [256]uint16) {
	for i := range t {
		t[i] = crc16tab[i]<<8 ^ crc16tab[crc16tab[i]>>8]
	}
	return t
}()

var crc16tab = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
