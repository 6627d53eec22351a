//! ferrokv cluster support. Nothing here yet: the cluster issue will add hash slots
//! (CRC16 with hash tags), the slot map, MOVED/ASK redirects and the bus messages.
