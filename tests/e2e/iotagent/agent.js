'use strict';
/*
 * A small IoT Agent for UltraLight 2.0 over HTTP, built on FIWARE's IoT Agent library
 * (iotagent-node-lib) the way IoT Agent UL is: the library serves the north API (/iot/services,
 * /iot/devices, /notify) and talks NGSI-v2 to the context broker; this file adds the southbound
 * side only: measures from devices (GET or POST /iot/d?k=APIKEY&i=DEVICE[&t=TIMESTAMP]), push
 * commands to a device's endpoint (cmdMode "notification": the broker notifies the agent; "legacy",
 * the default: the broker forwards the command to the agent as a context provider), and lazy
 * attributes, which the broker asks the agent for and the agent asks the device for.
 *
 * Used by area-broker's end-to-end test (tests/e2e/test_iotagent.py). Configuration by environment:
 *   BROKER_URL   the context broker, e.g. http://127.0.0.1:1026
 *   NORTH_PORT   the library's north API (provisioning and notifications from the broker)
 *   SOUTH_PORT   the UltraLight HTTP measures endpoint
 *   AGENT_LOG_LEVEL  the library's log level (default FATAL)
 *   READY_FD     a file descriptor to write "READY\n" to once both ports listen (default 1, stdout,
 *                where the library also logs)
 */

const fs = require('fs');
const http = require('http');
const iotAgentLib = require('iotagent-node-lib');

const RESOURCE = '/iot/d';
const NORTH_PORT = Number(process.env.NORTH_PORT);
const SOUTH_PORT = Number(process.env.SOUTH_PORT);

const config = {
    logLevel: process.env.AGENT_LOG_LEVEL || 'FATAL',
    contextBroker: { url: process.env.BROKER_URL, ngsiVersion: 'v2' },
    server: { host: '127.0.0.1', port: NORTH_PORT },
    deviceRegistry: { type: 'memory' },
    types: {},
    service: 'openiot',
    subservice: '/',
    providerUrl: 'http://127.0.0.1:' + NORTH_PORT,
    deviceRegistrationDuration: 'P1M',
    defaultType: 'Thing',
    defaultResource: RESOURCE
};

class MeasureError extends Error {
    constructor(code, name, message) {
        super(message);
        this.code = code;
        this.name = name;
    }
}

/**
 * UltraLight 2.0 payload to the library's measures: groups separated by '#', each a list of
 * key|value pairs, optionally led by a timestamp (an odd number of fields), which becomes the
 * group's TimeInstant. One group gives a list of measures, several a list of lists (multi-measure).
 */
function parseUltraLight(payload) {
    const groups = [];
    for (const group of String(payload).trim().split('#')) {
        if (group.trim() === '') {
            continue;
        }
        const fields = group.split('|').map((f) => f.trim());
        const measures = [];
        let start = 0;
        if (fields.length % 2 === 1) {
            measures.push({ name: 'TimeInstant', type: 'DateTime', value: fields[0] });
            start = 1;
        }
        for (let i = start; i < fields.length; i += 2) {
            if (fields[i] === '') {
                throw new MeasureError(400, 'UNPARSEABLE_MEASURE', 'empty measure name in: ' + group);
            }
            measures.push({ name: fields[i], type: 'Text', value: fields[i + 1] });
        }
        groups.push(measures);
    }
    if (groups.length === 0) {
        throw new MeasureError(400, 'UNPARSEABLE_MEASURE', 'no measure in the payload');
    }
    return groups;
}

/** The `t` parameter, when given, is the time of every measure group. */
function withTimestamp(groups, timestamp) {
    if (!timestamp) {
        return groups;
    }
    return groups.map((measures) =>
        measures
            .filter((m) => m.name !== 'TimeInstant')
            .concat([{ name: 'TimeInstant', type: 'DateTime', value: timestamp }])
    );
}

function send(res, status, body) {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
}

function handleMeasure(query, payload, res) {
    const deviceId = query.get('i');
    const apiKey = query.get('k');
    if (!deviceId || !apiKey) {
        return send(res, 400, { name: 'MANDATORY_PARAMS_NOT_FOUND', message: 'i and k are mandatory' });
    }
    let groups;
    try {
        groups = withTimestamp(parseUltraLight(payload), query.get('t'));
    } catch (error) {
        return send(res, error.code || 400, { name: error.name, message: error.message });
    }
    iotAgentLib.retrieveDevice(deviceId, apiKey, function (error, device) {
        if (error) {
            return send(res, error.code || 404, { name: error.name, message: error.message });
        }
        const measures = groups.length === 1 ? groups[0] : groups;
        iotAgentLib.update(device.name, device.type, '', measures, device, function (updateError) {
            if (updateError) {
                return send(res, updateError.code || 500, { name: updateError.name, message: updateError.message });
            }
            send(res, 200);
        });
    });
}

function southbound(req, res) {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname !== RESOURCE || (req.method !== 'GET' && req.method !== 'POST')) {
        return send(res, 404, { name: 'NOT_FOUND', message: req.method + ' ' + url.pathname });
    }
    if (req.method === 'GET') {
        return handleMeasure(url.searchParams, url.searchParams.get('d') || '', res);
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => handleMeasure(url.searchParams, Buffer.concat(chunks).toString('utf8'), res));
}

/** POST `device@command|value` to the device's endpoint; the device answers `device@command|result`. */
function pushCommand(device, command, callback) {
    const value = typeof command.value === 'string' ? command.value : JSON.stringify(command.value);
    const body = device.id + '@' + command.name + '|' + value;
    const request = http.request(
        device.endpoint,
        {
            method: 'POST',
            headers: {
                'Content-Type': 'text/plain',
                'Content-Length': Buffer.byteLength(body),
                'fiware-service': device.service,
                'fiware-servicepath': device.subservice
            }
        },
        (response) => {
            const chunks = [];
            response.on('data', (chunk) => chunks.push(chunk));
            response.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                const sep = text.indexOf('|');
                const result = sep === -1 ? text : text.slice(sep + 1);
                callback(response.statusCode === 200 ? 'OK' : 'ERROR', result);
            });
        }
    );
    request.on('error', (error) => callback('ERROR', error.message));
    request.end(body);
}

/**
 * Commands in cmdMode "notification": the broker notifies the agent of the command attribute
 * (a subscription the library made when the device was provisioned); the agent marks the command
 * PENDING, sends it to the device and stores the device's answer in <command>_status/_info.
 */
function notificationHandler(device, values, callback) {
    const commandNames = (device.commands || []).map((c) => c.name);
    // a null value is the placeholder the library writes when it creates the device's entity, not a command
    const commands = values.filter((v) => commandNames.includes(v.name) && v.value !== null);
    if (commands.length === 0) {
        return callback();
    }
    callback(); // the notification is accepted; the command runs on
    for (const command of commands) {
        storeResult(device, command.name, 'PENDING', ' ', () => {
            pushCommand(device, command, (status, result) => storeResult(device, command.name, status, result));
        });
    }
}

/** <command>_status and <command>_info on the device's entity. */
function storeResult(device, commandName, status, result, done) {
    iotAgentLib.setCommandResult(device.name, RESOURCE, device.apikey, commandName, result, status, device, (e) => {
        if (e) {
            process.stderr.write('command ' + status + ' not stored: ' + e.message + '\n');
        }
        if (done) {
            done();
        }
    });
}

/**
 * Legacy commands: the broker forwards `PATCH .../attrs {"ring": ...}` to the agent (POST /v2/op/update,
 * or //op/update) because the agent registered the command; the library hands it here.
 */
function commandHandler(id, type, service, subservice, attributes, callback) {
    iotAgentLib.getDeviceByNameAndType(id, type, service, subservice, function (error, device) {
        if (error) {
            return callback(error);
        }
        callback(); // accepted: the broker answers its client 204, the command runs on
        for (const command of attributes) {
            storeResult(device, command.name, 'PENDING', ' ', () => {
                pushCommand(device, command, (status, result) => storeResult(device, command.name, status, result));
            });
        }
    });
}

/**
 * Lazy attributes: the broker asks the agent (POST /v2/op/query) for attributes the agent registered
 * and the entity lacks; the agent asks the device (`device@attribute|?`, answered
 * `device@attribute|value`) for each lazy one. Commands asked for read as empty, as the library's
 * default handler gives them.
 */
function queryHandler(id, type, service, subservice, attributes, callback) {
    iotAgentLib.getDeviceByNameAndType(id, type, service, subservice, function (error, device) {
        if (error) {
            return callback(error);
        }
        const entity = { id: id, type: type };
        const lazy = device.lazy || [];
        const names = attributes && attributes.length ? attributes : lazy.map((a) => a.name);
        let pending = names.length;
        if (pending === 0) {
            return callback(null, entity);
        }
        for (const name of names) {
            const spec = lazy.find((a) => a.name === name);
            const command = (device.commands || []).find((c) => c.name === name);
            if (!spec) {
                entity[name] = { type: command ? command.type : 'string', value: '' };
                if (--pending === 0) callback(null, entity);
                continue;
            }
            pushCommand(device, { name: name, value: '?' }, (status, result) => {
                entity[name] = { type: spec.type, value: status === 'OK' ? result : null };
                if (--pending === 0) callback(null, entity);
            });
        }
    });
}

function main() {
    iotAgentLib.activate(config, function (error) {
        if (error) {
            process.stderr.write('activation failed: ' + (error.message || error) + '\n');
            process.exit(1);
        }
        iotAgentLib.setNotificationHandler(notificationHandler);
        iotAgentLib.setCommandHandler(commandHandler);
        iotAgentLib.setDataQueryHandler(queryHandler);
        http.createServer(southbound).listen(SOUTH_PORT, '127.0.0.1', () => {
            fs.writeSync(Number(process.env.READY_FD || 1), 'READY\n');
        });
    });
}

process.on('SIGTERM', () => iotAgentLib.deactivate(() => process.exit(0)));
main();
