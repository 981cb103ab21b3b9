#ifndef SPEAKERBRIDGE_CMOSQUITTO_SHIM_H
#define SPEAKERBRIDGE_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#endif
